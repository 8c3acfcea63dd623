"""Which views of the reward features a reward model may read, and how each view scales its columns.

A view is a tuple of parts. A part is a whole block of feature columns ("learned", "kinds", "stats",
"layout": `features.RewardFeatures.blocks`) or one column of a block whose columns each measure something a
person can name, "block:column" ("stats:ink_brightness"). `reward.fit_reward` fits every candidate view and
keeps the one with the best held-out log loss, so which view reads the taste is the ratings' choice.

Why single columns: a taste about one nameable property (lighter items, wider ones, busier surfaces) is one
column of the pixel statistics, and a fit on all 18 spends 100 thumbs on the other 17. Its slope comes out
shallow and its probabilities compressed, and the latent tilt then sharpens until the child narrows (a
careless rater of bright items: recall of the liked images 0.47). Read alone, the column gives a steep,
sure reward that covers every liked kind (same run: 0.69).
"""

from __future__ import annotations

import numpy as np

from aigc.feedback.appearance import STAT_NAMES

Block = tuple[str, int]  # (name, columns) of one group of feature columns, in order
View = tuple[str, ...]

# Blocks whose columns may each be read alone, and their columns' names (as `appearance.STAT_NAMES` orders them)
NAMED_COLUMNS: dict[str, tuple[str, ...]] = {"stats": STAT_NAMES}


def candidate_views(blocks: list[Block], single_columns: bool = True) -> list[View]:
    """Which views a reward may read: all blocks, each alone, the learned view or the kinds with the pixel
    statistics, the kinds with the statistics and the layout, and (single_columns) each named column alone and
    with the kinds."""
    names = [name for name, _ in blocks]
    out: list[View] = [tuple(names)]
    if len(names) > 1:
        out += [(n,) for n in names]
    if len(names) > 2 and "stats" in names:
        out += [(first, "stats") for first in (names[0], "kinds") if first in names]
    if "kinds" in names and "stats" in names and "layout" in names:
        out.append(("kinds", "stats", "layout"))
    if single_columns:
        singles = [f"{name}:{c}" for name, d in blocks if name in NAMED_COLUMNS for c in column_names(name, d)]
        out += [(one,) for one in singles]
        if "kinds" in names:  # a mixture: a set of kinds AND one property ("the busier of the sandals and boots")
            out += [("kinds", one) for one in singles]
    return out


def column_names(block: str, columns: int) -> tuple[str, ...]:
    """A block's column names as single-column views call them: NAMED_COLUMNS' when they fit, else 0, 1, 2, …"""
    named = NAMED_COLUMNS.get(block, ())
    return named if len(named) == columns else tuple(str(i) for i in range(columns))


def reads_single_column(view: View) -> bool:
    """Whether a view reads a column apart from its block ("stats:contrast")."""
    return any(":" in part for part in view)


def column_scale(blocks: list[Block], view: View) -> np.ndarray:
    """1/√(columns) on the blocks the view reads, 0 elsewhere: each block gets the same prior share of the logit,
    so 128 classifier columns do not drown 18 appearance ones under one L2 penalty. A column read alone is a
    block of one: scale 1."""
    parts = []
    for name, d in blocks:
        if name in view:
            parts.append(np.full(d, 1 / np.sqrt(d)))
        else:
            parts.append(np.array([1.0 if f"{name}:{c}" in view else 0.0 for c in column_names(name, d)]))
    return np.concatenate(parts)


def view_scale(blocks: list[Block], view: View, std: np.ndarray) -> np.ndarray:
    """Per-column divisor: x / it = standardised × `column_scale`, and ∞ (x / it = 0) on the columns the view
    leaves out."""
    cols = column_scale(blocks, view)
    return np.where(cols > 0, std / np.where(cols > 0, cols, 1), np.inf)
