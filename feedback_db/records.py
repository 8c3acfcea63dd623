"""What the store hands back: small frozen dataclasses, never ORM objects.

ORM instances are tied to a session; once it closes, touching a lazy attribute
raises. The studio keeps results across Gradio threads, so every read copies the
values it needs into one of these plain records before the session ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np


@dataclass(frozen=True)
class VersionInfo:
    id: int
    name: str
    kind: str
    parent_id: int | None
    checkpoint_path: str
    checkpoint_sha256: str
    dataset: str | None
    latent_dim: int | None
    created_at: datetime
    metrics: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    owner: str | None = None  # whose fine-tune made it (None: shipped or an operator's)
    published: bool = True  # visible to every visitor (else to its owner and admins)
    retired_at: datetime | None = None  # its weights were replaced (shipped file retrained): see versions.retire

    @property
    def retired(self) -> bool:
        return self.retired_at is not None


@dataclass(frozen=True, eq=False)
class SampleInfo:
    id: int
    version_id: int
    seed: int
    index: int
    latent: np.ndarray  # (latent_dim,) float32
    source: str
    rater_id: str | None  # who it was shown to
    image_sha256: str | None
    created_at: datetime

    @property
    def latent_dim(self) -> int:
        return int(self.latent.shape[0])


@dataclass(frozen=True)
class RatingInfo:
    id: int
    sample_id: int
    rater_id: str
    score: float
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, eq=False)
class RatedSample:
    """One rating joined with its sample: the unit the reward model learns from."""

    sample_id: int
    version_id: int
    latent: np.ndarray  # (latent_dim,) float32
    score: float
    rater_id: str
    seed: int
    index: int
    source: str
    rated_at: datetime


@dataclass(frozen=True)
class ActivityItem:
    """A sample a person made or rated, with their rating if they gave one."""

    sample_id: int
    version_id: int
    seed: int | None  # None where the studio says the seed would not draw it again (aigc.service.ratings)
    index: int | None
    source: str
    created_at: datetime
    score: float | None
    rated_at: datetime | None


@dataclass(frozen=True)
class ComparisonInfo:
    id: int
    left_sample_id: int
    right_sample_id: int
    picked_sample_id: int | None  # None: a tie
    rater_id: str
    created_at: datetime


@dataclass(frozen=True)
class ComparisonStats:
    """Blind A/B results between a parent and its child, counted for the child."""

    parent_version_id: int
    child_version_id: int
    wins: int  # the child's sample was picked
    losses: int  # the parent's sample was picked
    ties: int

    @property
    def n(self) -> int:
        return self.wins + self.losses + self.ties

    @property
    def win_rate(self) -> float | None:
        """Wins over decided picks; None before any decided pick."""
        decided = self.wins + self.losses
        return self.wins / decided if decided else None


@dataclass(frozen=True)
class RunInfo:
    id: int
    parent_version_id: int
    child_version_id: int | None
    status: str
    n_ratings: int
    config: dict[str, Any]
    metrics: dict[str, Any]
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    pid: int | None
    host: str | None
    stage: str | None = None  # how far it has got, as a worker reported it (0004)
    progress: float | None = None


@dataclass(frozen=True)
class VersionStats:
    version_id: int
    name: str
    n_samples: int
    n_ratings: int
    n_likes: int  # score > 0
    n_dislikes: int  # score < 0
    mean_score: float | None

    @property
    def like_rate(self) -> float | None:
        """Share of ratings that are positive; None while there are none."""
        return self.n_likes / self.n_ratings if self.n_ratings else None


@dataclass(frozen=True)
class RatingPoint:
    """One rating as a point in time, for plotting the loop's progress."""

    at: datetime
    version_id: int
    sample_id: int
    rater_id: str
    score: float


__all__ = [
    "ActivityItem",
    "ComparisonInfo",
    "ComparisonStats",
    "RatedSample",
    "RatingInfo",
    "RatingPoint",
    "RunInfo",
    "SampleInfo",
    "VersionInfo",
    "VersionStats",
]
