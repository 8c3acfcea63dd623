"""φ(x): the feature spaces a reward model and the effect metrics live in.

`feature_fn`, the learned view, where the effect metrics (FID, precision, recall) are measured: for
Fashion-MNIST-shaped models the shipped classifier's embedding (a space where clothes that look alike
sit together, trained independently of the generators); for a user's own images the model's own
representation, a VAE's encoder mean or a GAN discriminator's pooled features.

`reward_features`, what the reward model reads: that learned view, the shipped classifier's class
probabilities when it applies (`kinds`: ten columns in which a taste for a set of classes is one
linear rule, learnable from a few dozen ratings where the 128-column embedding needs many more),
*and* the image's appearance (`appearance.py`: pixel statistics and a 7×7 layout). A class-trained
embedding barely sees brightness, ink area, proportions or texture, so a taste for them was nearly
invisible (issue 13).
The reward model chooses which of these blocks to use by cross-validation (`reward.fit_reward`).
"""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass
from typing import cast

import numpy as np
import torch
from torch import nn

from aigc.data.datasets import from_uint8
from aigc.feedback.appearance import APPEARANCE_BLOCKS, appearance
from aigc.models import GAN, VAE
from aigc.models.batched import CONV_CHUNK, infer_cat
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
        vae = model.module
        assert isinstance(vae, VAE)  # kind "vae" is the VAE class's
        encoder = deepcopy(vae.encoder).cpu().eval()
        return (lambda x: encoder(x)[0]), "VAE encoder mean"
    gan = cast(GAN, model.module)  # not checked: only GANs and VAEs are served; a classifier fails here as ever
    features = deepcopy(gan.discriminator.features).cpu().eval()
    return (lambda x: features(x).mean(dim=(2, 3))), "GAN discriminator features (pooled)"


def compute(fn: FeatureFn, images: torch.Tensor | np.ndarray, batch: int = CONV_CHUNK) -> np.ndarray:
    """φ over many images, batched, without autograd."""
    x = from_uint8(images) if isinstance(images, np.ndarray) else images
    return infer_cat(lambda chunk: fn(chunk.float()), x, batch).double().numpy()


KindsFn = Callable[[np.ndarray], np.ndarray]  # (N, E) learned features → (N, K) P(kind)


@dataclass(frozen=True)
class RewardFeatures:
    """φ_r(x) = [learned view | kinds | pixel statistics | 7×7 layout], with the block sizes the reward model needs."""

    learned: FeatureFn
    learned_name: str
    learned_dim: int
    kinds: KindsFn | None = None  # the judge's class probabilities, read off the learned view (None: no judge)
    kinds_dim: int = 0

    @property
    def blocks(self) -> list[tuple[str, int]]:
        kinds = [("kinds", self.kinds_dim)] if self.kinds is not None else []
        return [("learned", self.learned_dim), *kinds, *APPEARANCE_BLOCKS]

    @property
    def dim(self) -> int:
        return sum(d for _, d in self.blocks)

    @property
    def name(self) -> str:
        kinds = " + class probabilities" if self.kinds is not None else ""
        return f"{self.learned_name}{kinds} + pixel statistics + 7x7 layout"

    def compute(self, images: torch.Tensor | np.ndarray, learned: np.ndarray | None = None) -> np.ndarray:
        """φ_r over many images; `learned`: the learned block when already computed (the judge's disk cache)."""
        learned = compute(self.learned, images) if learned is None else np.asarray(learned, np.float64)
        kinds = [self.kinds(learned)] if self.kinds is not None else []
        return np.concatenate([learned, *kinds, compute(appearance, images)], axis=1)


def reward_features(model: ImageModel) -> RewardFeatures:
    """The reward model's features for `model`: its learned view (`feature_fn`) beside its appearance."""
    fn, name = feature_fn(model)
    h, w, c = model.image_shape
    with torch.inference_mode():
        dim = int(fn(torch.zeros(1, c, h, w)).shape[1])
    if not uses_judge(model):
        return RewardFeatures(fn, name, dim)
    from aigc.evaluation.metrics import load_judge

    head = cast(nn.Module, load_judge().head)

    def class_probabilities(learned: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return torch.softmax(head(torch.from_numpy(learned).float()), 1).double().numpy()

    return RewardFeatures(fn, name, dim, class_probabilities, class_probabilities(np.zeros((1, dim))).shape[1])
