"""φ(x): the feature spaces a reward model and the effect metrics live in.

`feature_fn`, the learned view, where the effect metrics (FID, precision, recall) are measured: for
Fashion-MNIST-shaped models the shipped classifier's embedding (a space where clothes that look alike
sit together, trained independently of the generators); for a user's own images the model's own
representation, a VAE's encoder mean or a GAN discriminator's pooled features.

`reward_features`, what the reward model reads: that learned view *and* the image's appearance
(`appearance.py`: pixel statistics and a 7×7 layout). A class-trained embedding barely sees
brightness, ink area, proportions or texture, so a taste for them was nearly invisible (issue 13).
The reward model chooses which of these blocks to use by cross-validation (`reward.fit_reward`).
"""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass

import numpy as np
import torch

from aigc.data.datasets import from_uint8
from aigc.feedback.appearance import APPEARANCE_BLOCKS, appearance
from aigc.models.batched import infer_cat
from aigc.models.pipeline import ImageModel
from aigc.paths import PRETRAINED_DIR

FeatureFn = Callable[[torch.Tensor], torch.Tensor]  # (N, C, H, W) in [-1, 1] → (N, E)


def uses_judge(model: ImageModel) -> bool:
    return (
        (model.record.dataset or "").startswith("fashion-mnist")
        and model.image_shape == (28, 28, 1)
        and (PRETRAINED_DIR / "fashion-classifier.safetensors").exists()
    )


def feature_fn(model: ImageModel) -> tuple[FeatureFn, str]:
    """(φ, a short name for reports). φ is frozen: it is built from a copy of today's weights."""
    if uses_judge(model):
        from aigc.evaluation.metrics import load_judge

        judge = load_judge()
        return judge.embed, "fashion-classifier embedding"
    if model.kind == "vae":
        encoder = deepcopy(model.module.encoder).cpu().eval()
        return (lambda x: encoder(x)[0]), "VAE encoder mean"
    features = deepcopy(model.module.discriminator.features).cpu().eval()
    return (lambda x: features(x).mean(dim=(2, 3))), "GAN discriminator features (pooled)"


def compute(fn: FeatureFn, images: torch.Tensor | np.ndarray, batch: int = 1000) -> np.ndarray:
    """φ over many images, batched, without autograd."""
    x = from_uint8(images) if isinstance(images, np.ndarray) else images
    return infer_cat(lambda chunk: fn(chunk.float()), x, batch).double().numpy()


@dataclass(frozen=True)
class RewardFeatures:
    """φ_r(x) = [learned view | pixel statistics | 7×7 layout], with the block sizes the reward model needs."""

    learned: FeatureFn
    learned_name: str
    learned_dim: int

    @property
    def blocks(self) -> list[tuple[str, int]]:
        return [("learned", self.learned_dim), *APPEARANCE_BLOCKS]

    @property
    def dim(self) -> int:
        return sum(d for _, d in self.blocks)

    @property
    def name(self) -> str:
        return f"{self.learned_name} + pixel statistics + 7x7 layout"

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.learned(x), appearance(x)], dim=1)

    def compute(self, images: torch.Tensor | np.ndarray, learned: np.ndarray | None = None) -> np.ndarray:
        """φ_r over many images; `learned`: the learned block when already computed (the judge's disk cache)."""
        if learned is None:
            return compute(self, images)
        return np.concatenate([np.asarray(learned, np.float64), compute(appearance, images)], axis=1)


def reward_features(model: ImageModel) -> RewardFeatures:
    """The reward model's features for `model`: its learned view (`feature_fn`) beside its appearance."""
    fn, name = feature_fn(model)
    h, w, c = model.image_shape
    with torch.inference_mode():
        dim = int(fn(torch.zeros(1, c, h, w)).shape[1])
    return RewardFeatures(fn, name, dim)
