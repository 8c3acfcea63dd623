"""The memory of the feedback loop: samples, ratings, comparisons, model versions
and fine-tune runs, in SQLite (one person, a file the caller names) or
PostgreSQL (a hosted demo), through one API: `FeedbackStore`.

Imports nothing from `aigc` and no torch: latents go in and out as float
lists or numpy arrays and are stored as float32 bytes.
"""

from .engine import masked_url
from .errors import Conflict, DatabaseBusy, FeedbackError, InvalidInput, NotFound, SchemaError
from .records import (
    ActivityItem,
    ComparisonInfo,
    ComparisonStats,
    RatedSample,
    RatingInfo,
    RatingPoint,
    RunInfo,
    SampleInfo,
    VersionInfo,
    VersionStats,
)
from .store import FeedbackStore
from .validate import stars_to_score

__all__ = [
    "ActivityItem",
    "ComparisonInfo",
    "ComparisonStats",
    "Conflict",
    "DatabaseBusy",
    "FeedbackError",
    "FeedbackStore",
    "InvalidInput",
    "NotFound",
    "RatedSample",
    "RatingInfo",
    "RatingPoint",
    "RunInfo",
    "SampleInfo",
    "SchemaError",
    "VersionInfo",
    "VersionStats",
    "masked_url",
    "stars_to_score",
]
