"""Domain errors of the feedback store.

Callers (the studio, the CLI, the web page) catch these and show the message;
they never see a raw driver exception. Each class says what the caller should
do about it: fix the input, look elsewhere, resolve a clash, or try later.
"""

from __future__ import annotations


class FeedbackError(Exception):
    """Base of every error the feedback store raises on purpose."""


class InvalidInput(FeedbackError, ValueError):
    """The request itself is wrong (score out of range, NaN latent, empty rater...)."""


class NotFound(FeedbackError, LookupError):
    """A referenced row (sample, version, run) does not exist."""


class Conflict(FeedbackError):
    """The request clashes with what is stored (same name, other checkpoint;
    a second running fine-tune for one parent; finishing a finished run)."""


class DatabaseBusy(FeedbackError):
    """The database stayed locked for the whole retry budget; nothing was written."""


class SchemaError(FeedbackError):
    """The database's schema cannot be brought to this code's revision
    (for example it was written by a newer version of the code)."""


__all__ = ["FeedbackError", "InvalidInput", "NotFound", "Conflict", "DatabaseBusy", "SchemaError"]
