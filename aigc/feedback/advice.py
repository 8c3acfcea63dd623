"""Before a person trains: are their ratings enough to tell their taste apart, and do they agree with each other?

Counting ratings (`ratings.READINESS`) says when a reward *can* be fitted; this says how well it
will be. It fits the very reward model a run would (same features, same folds) on the ratings as
they stand and reads its held-out record (`calibration.confidence`, `calibration.warnings`): a few
seconds, so the page asks it when the model or the rating count changes, never on every click.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from aigc.feedback import features as phi
from aigc.feedback.calibration import confidence, no_taste, warnings
from aigc.feedback.finetune_data import rated_images
from aigc.feedback.ratings import READINESS
from aigc.feedback.reward import RewardModel, fit_reward
from aigc.feedback.selection import select_to_rate
from aigc.models.pipeline import ImageModel
from feedback_db import FeedbackStore


@dataclass(frozen=True)
class RatingsAdvice:
    """How sure a fine-tune from these ratings would be, in words; `level` is high, medium, low or unknown."""

    level: str
    text: str
    warnings: tuple[str, ...] = ()
    heldout: dict = field(default_factory=dict)
    flip: float = 0.0

    @property
    def no_taste(self) -> bool:
        """A fine-tune would refuse these ratings (`calibration.no_taste`): the page rests its button."""
        return no_taste(self.heldout)

    def as_dict(self) -> dict:
        return {
            "level": self.level,
            "text": self.text,
            "warnings": list(self.warnings),
            "flip": self.flip,
            "no_taste": self.no_taste,  # a fine-tune from these ratings would be refused
            **self.heldout,
        }


@dataclass(frozen=True)
class Assessment:
    """The ratings as they stand: their reward features, the reward model fitted on them (None while too few),
    and the advice. What both the advice and the 'images to rate next' rule need, fitted once."""

    advice: RatingsAdvice
    features: np.ndarray
    reward: RewardModel | None = None

    def pick_to_rate(self, pool: np.ndarray, k: int) -> np.ndarray:
        """Which k rows of a pool's reward features to show next (`selection.select_to_rate`): the ones this
        reward model is least sure of, and the ones unlike anything rated yet (coverage alone while too few)."""
        p = self.reward.predict(pool) if self.reward is not None else None
        return select_to_rate(pool, self.features, k, p)


def assess_scores(features: np.ndarray, scores: np.ndarray, blocks: list[tuple[str, int]]) -> Assessment:
    """The reward fit and advice for rated features (the testable core of `assess`)."""
    readiness = READINESS.assess(scores)
    if not readiness.ready:
        return Assessment(RatingsAdvice("unknown", readiness.message()), features)
    reward = fit_reward(features, scores, blocks=blocks)
    level, text = confidence(reward.heldout)
    advice = RatingsAdvice(level, text, tuple(warnings(reward.heldout, reward.flip)), dict(reward.heldout), reward.flip)
    return Assessment(advice, features, reward)


def advise_scores(features: np.ndarray, scores: np.ndarray, blocks: list[tuple[str, int]]) -> RatingsAdvice:
    return assess_scores(features, scores, blocks).advice


def assess(model: ImageModel, store: FeedbackStore, version_id: int, rater: str | None) -> Assessment:
    """Decode the rated latents as the run would, map them to the reward features, fit and judge them."""
    rated, scores = rated_images(store, version_id, model.latent_dim, rater)
    rf = phi.reward_features(model)
    if not len(rated):
        return Assessment(RatingsAdvice("unknown", READINESS.assess(scores).message()), np.zeros((0, rf.dim)))
    return assess_scores(rf.compute(rated), scores, rf.blocks)
