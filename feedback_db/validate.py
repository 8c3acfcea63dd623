"""Input checks and the latent codec.

Every public write checks its arguments here first, so bad input is refused
with an `InvalidInput` that names the problem, before any SQL runs. The database
constraints stay as a second line; they should never be what a caller sees.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .errors import InvalidInput
from .schema import MODEL_KINDS, SAMPLE_SOURCES

MAX_ID_LEN = 128
MAX_NAME_LEN = 200
MAX_SEED = 2**63 - 1
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_LATENT_DTYPE = np.dtype("<f4")


def text_id(value: Any, what: str, max_len: int = MAX_ID_LEN) -> str:
    """A non-empty identifier (rater, session, name) without surrounding spaces."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string, got {type(value).__name__}")
    value = value.strip()
    if not value:
        raise InvalidInput(f"{what} must not be empty")
    if len(value) > max_len:
        raise InvalidInput(f"{what} is longer than {max_len} characters")
    return value


def optional_text_id(value: Any, what: str, max_len: int = MAX_ID_LEN) -> str | None:
    return None if value is None else text_id(value, what, max_len)


def row_id(value: Any, what: str) -> int:
    """A positive integer id; bools and floats are refused (they are bugs upstream)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidInput(f"{what} must be an integer id, got {value!r}")
    value = int(value)
    if value <= 0:
        raise InvalidInput(f"{what} must be positive, got {value}")
    return value


def count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 0:
        raise InvalidInput(f"{what} must be a non-negative integer, got {value!r}")
    return int(value)


def seed(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidInput(f"seed must be an integer, got {value!r}")
    value = int(value)
    if not 0 <= value <= MAX_SEED:
        raise InvalidInput(f"seed must be in [0, 2**63 - 1], got {value}")
    return value


def score(value: Any) -> float:
    """A rating score: a finite real number in [-1, 1]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInput(f"score must be a number in [-1, 1], got {value!r}")
    value = float(value)
    if math.isnan(value):
        raise InvalidInput("score must not be NaN")
    if not -1.0 <= value <= 1.0:
        raise InvalidInput(f"score must be in [-1, 1], got {value}")
    return value


def stars_to_score(stars: Any) -> float:
    """Map 1..5 stars linearly onto [-1, 1]: 1 → -1, 3 → 0, 5 → +1."""
    if isinstance(stars, bool) or not isinstance(stars, numbers.Real) or math.isnan(float(stars)):
        raise InvalidInput(f"stars must be a number in [1, 5], got {stars!r}")
    if not 1 <= stars <= 5:  # type: ignore[operator]  # typeshed's numbers.Real has __le__ but no __ge__
        raise InvalidInput(f"stars must be in [1, 5], got {stars}")
    return (float(stars) - 3.0) / 2.0


def model_kind(value: Any) -> str:
    if value not in MODEL_KINDS:
        raise InvalidInput(f"kind must be one of {MODEL_KINDS}, got {value!r}")
    return str(value)


def source(value: Any) -> str:
    if value not in SAMPLE_SOURCES:
        raise InvalidInput(f"source must be one of {SAMPLE_SOURCES}, got {value!r}")
    return str(value)


def sha256(value: Any, what: str = "sha256") -> str:
    if not isinstance(value, str) or not _SHA256.match(value.strip().lower()):
        raise InvalidInput(f"{what} must be 64 hexadecimal characters, got {value!r}")
    return value.strip().lower()


def json_object(value: Any, what: str) -> dict[str, Any]:
    """A JSON-safe dict: numpy scalars/arrays become Python numbers/lists, and
    NaN/inf are refused (PostgreSQL's JSON type cannot store them)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{what} must be a dict, got {type(value).__name__}")
    try:
        return json.loads(json.dumps(value, allow_nan=False, default=_numpy_default))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{what} is not JSON-serialisable without NaN/inf: {exc}") from None


def _numpy_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


def latent_matrix(latents: Any, expected_dim: int | None = None) -> np.ndarray:
    """Check a batch of latents and return it as a (N, D) float32 array.

    Refuses ragged rows, empty batches, non-numbers, NaN/inf, and a dimension
    other than `expected_dim` (the version's latent size, when it is known).
    """
    try:
        array = np.asarray(latents, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"latents must be a 2D array of numbers: {exc}") from None
    if array.ndim != 2:
        raise InvalidInput(f"latents must be 2D (n_samples, latent_dim), got shape {array.shape}")
    n, dim = array.shape
    if n == 0:
        raise InvalidInput("latents must hold at least one sample")
    if dim == 0:
        raise InvalidInput("latent_dim must be positive")
    if expected_dim is not None and dim != expected_dim:
        raise InvalidInput(f"latents have dimension {dim}, this version expects {expected_dim}")
    finite = np.isfinite(array)
    if not finite.all():
        bad_row = int(np.argmin(finite.all(axis=1)))
        raise InvalidInput(f"latent {bad_row} contains NaN or inf")
    with np.errstate(over="ignore"):
        as32 = array.astype(np.float32)
    if not np.isfinite(as32).all():
        raise InvalidInput("latents overflow float32")
    return as32


def latent_to_bytes(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=_LATENT_DTYPE).tobytes()


def latent_from_bytes(blob: bytes, dim: int) -> np.ndarray:
    """Decode stored bytes; the result is a fresh, writable float32 array."""
    array = np.frombuffer(blob, dtype=_LATENT_DTYPE).astype(np.float32)
    if array.shape != (dim,):
        raise ValueError(f"stored latent has {array.shape[0]} values, expected {dim}")
    return array


def hashes(values: Sequence[Any] | None, n: int) -> list[str | None]:
    if values is None:
        return [None] * n
    values = list(values)
    if len(values) != n:
        raise InvalidInput(f"got {len(values)} image hashes for {n} latents")
    return [None if v is None else sha256(v, "image sha256") for v in values]


def id_list(values: Iterable[Any], what: str) -> list[int]:
    return [row_id(v, what) for v in values]
