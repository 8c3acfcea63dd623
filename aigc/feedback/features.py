"""φ(x): the feature space a reward model and the effect metrics live in.

For Fashion-MNIST-shaped models, the shipped classifier's embedding (a space where clothes that
look alike sit together, trained independently of the generators). For a user's own images,
the model's own representation: a VAE's encoder mean, or a GAN discriminator's pooled features,
the only learned view of that data we have.
"""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy

import numpy as np
import torch

from aigc.data.datasets import from_uint8
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
