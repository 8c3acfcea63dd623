"""Every input a visitor controls, bounded: one rule per quantity, one validator per rule.

Why one module: the page, the HTTP API and the CLI must refuse the same things with the same line.
Each endpoint used to do its own `int(...)` (so a sample id of 1.7 rated sample 1, NaN truncation
meant "off", and 2**70 reached the database as "Something went wrong"); and nothing bounded the
work one request can ask for (`n=10**6` children tried to allocate 25 GB). Every validator here
takes the raw value (int, float, numeric text, numpy scalar), refuses bools, non-integral or
non-finite numbers and anything out of range with a `StudioError` naming the quantity and its
rule, and returns the clean value. Torch-free and Gradio-free: the page imports `RULES` to show them.
"""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from aigc.service.errors import StudioError


def _shown(value: Any, width: int = 40) -> str:
    """A bad value as it may be echoed back: short (a 10 MB string must not come back in the message)."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def whole(value: Any, what: str, lo: int, hi: int) -> int:
    """An integer in [lo, hi]; integral floats (8.0) and numeric text ("8") are accepted, 1.7 and True are not."""
    rule = f"{what} must be a whole number from {lo} to {hi}, got {_shown(value)}"
    if value is None or (isinstance(value, str) and not value.strip()):  # a box left empty on the page
        raise StudioError(f"{what} is empty: give a whole number from {lo} to {hi}")
    if isinstance(value, bool):
        raise StudioError(rule)
    if isinstance(value, str):
        text = value.strip()
        if not text.isascii():  # int() reads "８" and "١٢" as 8 and 12; the score's rule refused them
            raise StudioError(rule)
        try:
            value = int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                raise StudioError(rule) from None
    if isinstance(value, numbers.Integral):
        out = int(value)
    elif isinstance(value, numbers.Real):
        f = float(value)
        if not math.isfinite(f) or not f.is_integer():
            raise StudioError(rule)
        out = int(f)
    else:
        raise StudioError(rule)
    if not lo <= out <= hi:
        raise StudioError(rule)
    return out


def holds_bool(value: Any) -> bool:
    """True/False anywhere in a value meant as numbers: numpy reads them as 1 and 0, so a list of 64 bools
    passed for a latent (the rule refuses bools everywhere, never reads them as numbers)."""
    if isinstance(value, (bool, np.bool_)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype == np.bool_ or (value.dtype == object and any(holds_bool(v) for v in value.flat))
    return isinstance(value, (list, tuple)) and any(holds_bool(v) for v in value)


def count(n: int) -> str:
    return f"{n} number" if n == 1 else f"{n} numbers"


def real(value: Any, what: str, lo: float, hi: float) -> float:
    """A finite number in [lo, hi] (NaN and ±inf are refused, never read as 'off' or 'max')."""
    rule = f"{what} must be a finite number from {lo:g} to {hi:g}, got {_shown(value)}"
    if isinstance(value, bool) or value is None:
        raise StudioError(rule)
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise StudioError(rule) from None
    if not isinstance(value, numbers.Real):
        raise StudioError(rule)
    out = float(value)
    if not (math.isfinite(out) and lo <= out <= hi):
        raise StudioError(rule)
    return out


@dataclass(frozen=True)
class Limits:
    """The bounds of one deployment. Defaults keep any single request under ~0.1 s of CPU and a few MB.

    A decode of 64 images is one batched forward (tens of ms); 10,000 fine-tune steps is the longest run
    one visitor can start (above every kind's default, `aigc.feedback.config.KIND_DEFAULTS`).
    """

    max_images: int = 64  # images per call: /sample n, /children n, interpolation frames
    max_seed: int = 2**31 - 1  # seeds: what a page's number box and a URL carry without loss
    min_steps: int = 2  # interpolation frames, both ends included
    max_strength: float = 5.0  # children's noise scale (latents are standard normal: 5 is far out)
    max_truncation: float = 10.0  # GAN truncation; 0 = off; above ~5 it changes nothing
    max_history: int = 1000  # /history limit
    max_finetune_steps: int = 10_000  # 0 = the kind's default
    max_sample_id: int = 2**63 - 1  # the database's BIGINT
    max_latent_abs: float = 100.0  # a latent coordinate (standard normal: |z| > 6 is already never drawn)
    max_upload_bytes: int = 10 * 2**20  # uploaded images; the page hands it to Gradio and its upload-request cap
    max_name_chars: int = 200  # a model name (the database's version-name limit)
    max_upload_space_bytes: int = 2 * 2**30  # all uploads kept at once (Gradio keeps them for hours)
    # a person's ratings file (History's download): the most recent this many (~0.75 KB each with a 64-d latent),
    # written at most once per person every `export_every_s` (Gradio keeps each new file for hours)
    max_export_ratings: int = 10_000
    export_every_s: float = 60.0

    # ---------------------------------------------------------------- one validator per quantity

    def model_name(self, value: Any) -> str:
        """A model name: text of 1 to max_name_chars characters (a dict or a 10 MB string is not a name)."""
        if not isinstance(value, str) or not value.strip() or len(value) > self.max_name_chars:
            raise StudioError(f"model must be a model name (text of 1 to {self.max_name_chars} characters)")
        return value

    def rater_filter(self, value: Any) -> str | None:
        """`only_rater`: whose ratings a run (or its advice) reads; None or "" for everyone's. Text only: a
        list reached a set lookup and ended in "Something went wrong on the server"."""
        if value is None or value == "":
            return None
        if not isinstance(value, str) or not value.strip() or len(value) > self.max_name_chars:
            raise StudioError(f"only_rater must be a rater id (text of 1 to {self.max_name_chars} characters) or empty")
        return value.strip()

    def images(self, value: Any) -> int:
        return whole(value, "number of images", 1, self.max_images)

    def seed(self, value: Any) -> int:
        return whole(value, "seed", 0, self.max_seed)

    def index(self, value: Any) -> int:
        """Which image of a seed's batch: a seed's batch is at most `max_images` long."""
        return whole(value, "seed index", 0, self.max_images - 1)

    def steps(self, value: Any) -> int:
        return whole(value, "interpolation steps", self.min_steps, self.max_images)

    def children(self, value: Any) -> int:
        return whole(value, "number of children", 1, self.max_images)

    def strength(self, value: Any) -> float:
        return real(value, "strength", 0.0, self.max_strength)

    def truncation(self, value: Any) -> float | None:
        """None or 0 → off (None); otherwise a finite t in (0, max]."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        t = real(value, "truncation", 0.0, self.max_truncation)
        return t or None

    def history(self, value: Any) -> int:
        return whole(value, "history limit", 1, self.max_history)

    def finetune_steps(self, value: Any) -> int | None:
        """None or 0 → the kind's default (None)."""
        if value is None:
            return None
        return whole(value, "fine-tune steps", 0, self.max_finetune_steps) or None

    def sample_id(self, value: Any) -> int:
        return whole(value, "sample id", 1, self.max_sample_id)

    def score(self, value: Any) -> float:
        return real(value, "score", -1.0, 1.0)

    def latent(self, value: Any, dim: int, what: str = "a latent") -> np.ndarray:
        """A (dim,) float32 vector of finite numbers, each within ±max_latent_abs."""
        rule = f"{what} must be a list of {dim} finite numbers within ±{self.max_latent_abs:g}"
        if isinstance(value, (str, bytes)) or value is None or holds_bool(value):
            raise StudioError(rule)
        if isinstance(value, (list, tuple)) and len(value) != dim:  # before converting a huge list
            raise StudioError(f"{rule}, got {count(len(value))}")
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                z = np.asarray(value, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError, OverflowError):
            raise StudioError(rule) from None
        if z.shape[0] != dim:
            raise StudioError(f"{rule}, got {count(z.shape[0])}")
        with np.errstate(invalid="ignore"):
            bad = z[~np.isfinite(z) | (np.abs(z) > self.max_latent_abs)]
        if bad.size:
            raise StudioError(f"{rule}, got {bad[0]:g}")
        return z.astype(np.float32)

    def upload(self, value: Any) -> Any:
        """An uploaded file (path or bytes) no larger than max_upload_bytes; returned unchanged."""
        if isinstance(value, (bytes, bytearray)):
            size = len(value)
        elif isinstance(value, (str, os.PathLike)):
            try:
                size = os.path.getsize(value)
            except OSError:
                raise StudioError("the uploaded file is gone; upload it again") from None
        else:
            return value  # an in-memory picture (PIL or array) made by our own code
        if size > self.max_upload_bytes:
            most = self.max_upload_bytes // 2**20
            raise StudioError(f"an upload must be at most {most} MB, got {size / 2**20:.1f} MB")
        return value

    # ---------------------------------------------------------------- the rules, as people read them

    def rules(self) -> dict[str, str]:
        """Quantity → its rule in words: the README's API table and the page show these."""
        return {
            "model_name": f"text of 1 to {self.max_name_chars} characters",
            "images": f"1 to {self.max_images} per call",
            "seed": f"a whole number from 0 to {self.max_seed}",
            "index": f"0 to {self.max_images - 1} (which image of the seed's batch)",
            "steps": f"{self.min_steps} to {self.max_images} frames",
            "children": f"1 to {self.max_images}",
            "strength": f"0 to {self.max_strength:g}",
            "truncation": f"0 (off) to {self.max_truncation:g}",
            "history": f"1 to {self.max_history}",
            "finetune_steps": f"0 (the kind's default) to {self.max_finetune_steps}",
            "sample_id": "a whole number from 1 to 2**63 - 1",
            "rater_filter": f"a rater id (text of 1 to {self.max_name_chars} characters), or empty: everyone's",
            "score": "a finite number from -1 to 1",
            "latent": f"the model's latent size, finite numbers within ±{self.max_latent_abs:g}",
            "upload": f"an image file of at most {self.max_upload_bytes // 2**20} MB",
            "upload_space": f"uploads refused while kept uploads exceed {self.max_upload_space_bytes / 2**30:g} GB",
        }


DEFAULT = Limits()
RULES = DEFAULT.rules()
SEED_RULE = RULES["seed"]  # shown under the page's seed boxes
