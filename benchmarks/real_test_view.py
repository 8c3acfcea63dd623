"""The Fashion-MNIST test images as the reward model of a run on a shipped model sees them: shared by the
benchmarks that fit rewards on real images (reward_offline.py, reward_nested.py) instead of on a model's samples."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RealTestView:
    images: np.ndarray  # (N, 28, 28) uint8, what a rater judges
    classes: np.ndarray  # (N,) the shipped classifier's calls
    features: np.ndarray  # (N, E) the reward features of a run on a shipped model
    blocks: list  # their blocks, as fit_reward reads them
    learned_dim: int  # the first columns: the learned view (the reward before issue 13 read these alone)


def real_test_view() -> RealTestView:
    from aigc.data.datasets import load_dataset, to_uint8
    from aigc.evaluation.metrics import classify_features, real_features
    from aigc.feedback.features import reward_features
    from aigc.models.pipeline import load_model

    learned, _ = real_features("test")
    data = load_dataset(None, split="test")
    view = reward_features(load_model("fashion-gan"))  # the blocks a run on a shipped model reads
    return RealTestView(
        to_uint8(data.images),
        classify_features(learned).numpy(),
        view.compute(data.images, learned=learned.double().numpy()),
        view.blocks,
        learned.shape[1],
    )
