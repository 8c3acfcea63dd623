"""Issue 13's targets for one feedback-loop run: their numbers and the four quality rules, in one home.

Apart from `feedback_loop.py` because two benchmarks grade by them: the loop grades a fine-tuned child against
its parent, and `tilt_offline.py` grades the tilt's picks among the parent's own draws the same way.
"""

from __future__ import annotations

LOOP_BUDGET_S = 60.0  # the whole loop, rating excluded, on the 2-core machine
MAX_RATINGS = 100
MAX_RATINGS_TO_RATE = 50  # with "images to rate next" on, the same targets at half the ratings
RECALL_LIKED_TARGET = 0.6  # recall of the liked real images a child keeps (issue 13: variety within the taste)
QUALITY_FIGURES = ("liked_rate", "precision_all", "recall_liked", "fid_liked")


def quality_targets(after: dict, before: dict, liked_target: float) -> dict[str, bool]:
    """The four quality targets on a child's figures (`QUALITY_FIGURES`) against its parent's."""
    return {
        "liked_rate": after["liked_rate"] >= liked_target,
        "precision_all": after["precision_all"] >= before["precision_all"],
        "recall_liked": after["recall_liked"] >= RECALL_LIKED_TARGET,
        "fid_liked": after["fid_liked"] < before["fid_liked"],
    }
