"""Bounds on the model configs' sizes, checked where a config is made (a `--set`, a flag, a checkpoint's record).

Why: a config is built from outside input: `aigc train --width 5000` ran for minutes inside one step,
`--latent-dim 100000` trained a 3 GB network without a word, `--set kl_weight=nan` trained until the loss
was not a number and ended in a traceback, `--set kl_weight=-5` trained a model whose KL term rewarded
spreading out. A checkpoint's header could also name a network of any size, which would be allocated before
its weights were compared. Each bound is far above what a 28-64 px image model needs.
"""

from __future__ import annotations

import math
from typing import Any

from aigc.models.blocks import ladder

LATENT_DIM = (1, 1024)
WIDTH = (1, 512)
HIDDEN = (1, 8192)
EXTRA_CONVS = (0, 8)
CLASSES = (2, 1000)
CHANNELS = (1, 3)


def check_whole(name: str, value: object, span: tuple[int, int]) -> None:
    """`value` is a whole number (not a bool) within `span`, or a ValueError naming the field."""
    low, high = span
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}")


def check_image_model(cfg: Any, widths: tuple[str, ...], extra_convs: str) -> None:
    """What a GAN's and a VAE's config both hold: an image shape, a latent size, channel widths and extra
    convolutions after each upsampling (`widths` and `extra_convs` name the fields)."""
    ladder(cfg.image_size)
    check_channels(cfg.channels)
    check_whole("latent_dim", cfg.latent_dim, LATENT_DIM)
    for name in widths:
        check_whole(name, getattr(cfg, name), WIDTH)
    check_whole(extra_convs, getattr(cfg, extra_convs), EXTRA_CONVS)


def check_channels(value: object) -> None:
    if isinstance(value, bool) or value not in CHANNELS:
        raise ValueError(f"channels must be 1 (greyscale) or 3 (colour), got {value!r}")


def check_weight(name: str, value: object, high: float = 1000.0) -> None:
    """A loss weight: a finite number from 0 to `high`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number from 0 to {high:g}, got {value!r}")
    if not 0.0 <= value <= high:
        raise ValueError(f"{name} must be a number from 0 to {high:g}, got {value!r}")
