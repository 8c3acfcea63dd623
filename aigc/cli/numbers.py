"""Argparse types for the command line's numbers: a value out of its range is argparse's own one-line error
naming the flag (exit 2), before anything is loaded.

Why: with plain `type=int`, `aigc train --batch-size -5` trained two steps and reported -16.9 images/s,
`--epochs -1` trained one step, `--threads -2` ended in torch's RuntimeError traceback, and
`aigc evaluate --n 0` in "torch.cat(): expected a non-empty list of Tensors".
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def whole(least: int, most: int | None = None) -> Callable[[str], int]:
    """A whole number from `least` (to `most`)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if value < least or (most is not None and value > most):
            span = f"from {least} to {most}" if most is not None else f"at least {least}"
            raise argparse.ArgumentTypeError(f"must be a whole number {span}, got {value}")
        return value

    return parse


def number(least: float = 0.0, most: float | None = None, *, above: bool = False) -> Callable[[str], float]:
    """A finite number from `least` (or above it, with `above`) to `most`."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        low_ok = value > least if above else value >= least
        if not math.isfinite(value) or not low_ok or (most is not None and value > most):
            low = f"above {least:g}" if above else f"at least {least:g}"
            span = f"{low} and at most {most:g}" if most is not None else low
            raise argparse.ArgumentTypeError(f"must be a number {span}, got {text}")
        return value

    return parse


COUNT = whole(1)  # how many of something: at least one
EVERY = whole(0)  # an interval in steps; 0: never
THREADS = whole(0)  # torch threads; 0 (or the flag left out): torch's own choice
POSITIVE = number(0.0, above=True)
SEED = whole(0, 2**63 - 1)  # a random seed: torch takes any whole number in [0, 2**64)
SAMPLES = whole(
    2, 200_000
)  # samples a measurement draws: FID needs a covariance, so at least two; 20x the test set at most
