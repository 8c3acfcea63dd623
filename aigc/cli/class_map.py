"""`CLASS=VALUE,...` flags (`aigc train --class-weights`, `aigc filter --class-keep`): one parser for both."""

from __future__ import annotations

import math


def parse_class_map(spec: str | None, flag: str, expected: str) -> dict[int, float]:
    """`"6=1.5,8=0.9"` → {6: 1.5, 8: 0.9}; an item that is not a whole number = a finite number is refused by
    `flag` with `expected` (e.g. "CLASS=SHARE, such as 6=0.9"). Ranges are the caller's to check."""
    chosen: dict[int, float] = {}
    for item in spec.split(",") if spec else []:
        key, sep, raw = item.partition("=")
        try:
            label, value = int(key), float(raw)
        except ValueError:
            label, value = -1, float("nan")
        if not sep or not math.isfinite(value):
            raise ValueError(f"{flag} {item!r}: expected {expected}")
        chosen[label] = value
    return chosen
