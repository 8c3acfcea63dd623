"""Which ratings a fine-tune learns from, and when there are enough of them: one home for both rules.

The readiness rule (20 ratings, at least 3 likes and 3 dislikes) used to be written in the reward
model, twice in the Studio, in the fine-tune run and in the page's text; the "rated latents" filter
(this rater, this latent size, not neutral) in three places. A change to either now changes the
button, the API, the CLI and the run together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from feedback_db import FeedbackStore, RatedSample, SampleInfo


class NotEnoughRatings(ValueError):
    """Too few (or one-sided) ratings to learn a reward; the message says how many more are needed."""


class NoTasteFound(NotEnoughRatings):
    """Enough ratings, but held-out models rank them barely better than a coin would (`calibration.no_taste`)."""


@dataclass(frozen=True)
class ReadinessRule:
    """How many ratings a reward model needs: a total, and some of each side (it must see both)."""

    min_ratings: int = 20
    min_each: int = 3  # at least this many likes AND dislikes

    def assess(self, scores: Sequence[float] | np.ndarray) -> Readiness:
        scores = np.asarray(scores, np.float64)
        return Readiness(int((scores > 0).sum()), int((scores < 0).sum()), self)

    @property
    def requirement(self) -> str:
        """The rule in words, for every message that asks a person for more ratings."""
        return f"at least {self.min_ratings} ratings, with at least {self.min_each} likes and {self.min_each} dislikes"


READINESS = ReadinessRule()


@dataclass(frozen=True)
class Readiness:
    """The counts of one model's usable ratings, judged by a rule."""

    likes: int
    dislikes: int
    rule: ReadinessRule = field(default=READINESS)

    @property
    def ratings(self) -> int:
        return self.likes + self.dislikes

    @property
    def needed(self) -> int:
        return self.rule.min_ratings

    @property
    def shortfall(self) -> tuple[int, int, int]:
        """How many more (ratings, likes, dislikes) the rule asks for; all 0 when ready."""
        rule = self.rule
        return (
            max(0, rule.min_ratings - self.ratings),
            max(0, rule.min_each - self.likes),
            max(0, rule.min_each - self.dislikes),
        )

    @property
    def missing(self) -> list[str]:
        """What is still lacking, e.g. ['8 more rating(s)', '2 more dislike(s)']; empty when ready."""
        words = ("rating(s)", "like(s)", "dislike(s)")
        return [f"{n} more {what}" for n, what in zip(self.shortfall, words) if n]

    @property
    def ready(self) -> bool:
        return not self.missing

    def message(self) -> str:
        """One line for a person: what there is, what is needed."""
        return (
            f"not enough ratings to fine-tune: have {self.ratings} ({self.likes} likes, {self.dislikes} dislikes); "
            f"need {' and '.join(self.missing)} ({self.rule.requirement})"
        )

    def require(self) -> None:
        """Raise `NotEnoughRatings` with `message()` unless ready."""
        if not self.ready:
            raise NotEnoughRatings(self.message())


def live_lineage(store: FeedbackStore, version_id: int) -> set[int]:
    """Ids of this version and its ancestors that are not retired: whose pictures can still be made again
    (a retired version's file now holds other weights), so whose ratings and picks a fine-tune may read."""
    return {v.id for v in store.lineage(version_id) if not v.retired}


def usable_ratings(
    store: FeedbackStore, version_id: int, latent_dim: int | None = None, rater: str | None = None
) -> list[RatedSample]:
    """The ratings of this version's lineage a fine-tune (or the taste direction) learns from.

    Only `rater`'s when given; only latents of this model's size (a lineage never changes it, but a
    hand-edited database might); neutral scores (0) carry no preference and are left out. Ratings of a
    retired ancestor (its shipped weights were replaced, `feedback_db.versions.retire`) are left out too:
    its pictures cannot be made again, and its file now holds other weights.
    """
    live = live_lineage(store, version_id)
    return [
        r
        for r in store.ratings_for_lineage(version_id)
        if r.version_id in live
        and (rater is None or r.rater_id == rater)
        and (latent_dim is None or r.latent.shape[0] == latent_dim)
        and r.score != 0
    ]


MAX_PICKS = 2_000  # the newest blind picks a reward reads: each is two images decoded and embedded


@dataclass(frozen=True)
class Pick:
    """One blind A/B pick between two samples of a lineage: `picked` was preferred over `other`."""

    picked: SampleInfo
    other: SampleInfo


def usable_picks(
    store: FeedbackStore, version_id: int, latent_dim: int | None = None, rater: str | None = None
) -> list[Pick]:
    """The blind A/B picks a fine-tune may read as Bradley–Terry evidence, oldest first.

    The same rules as `usable_ratings`: only `rater`'s when given; both samples from this version's
    lineage, none from a retired version, latents of this model's size; a tie says nothing about which
    way the taste runs and is left out. Only the database's newest `MAX_PICKS` picks (of any model) are looked
    at, so the cost of a run stays bounded however many people compare versions.
    """
    live = live_lineage(store, version_id)
    picks = [c for c in store.comparisons(rater, limit=MAX_PICKS) if c.picked_sample_id is not None]
    ids = sorted({i for c in picks for i in (c.left_sample_id, c.right_sample_id)})
    samples = {s.id: s for s in store.get_samples(ids)}  # every id is there: get_samples refuses a missing one
    out = []
    for c in reversed(picks):
        left, right = samples[c.left_sample_id], samples[c.right_sample_id]
        if not {left.version_id, right.version_id} <= live:
            continue
        if c.picked_sample_id not in (left.id, right.id):
            continue
        if latent_dim is not None and not left.latent_dim == right.latent_dim == latent_dim:
            continue
        picked, other = (left, right) if c.picked_sample_id == left.id else (right, left)
        out.append(Pick(picked, other))
    return out
