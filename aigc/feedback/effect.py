"""Parent vs child on the same seeds: did the fine-tune move towards what was liked, and what did it cost?

- mean predicted reward (the reward model's P(liked)), before/after;
- precision against ALL real data: are the images still realistic?
- FID and recall against the real data resampled by the same reward weights: the distribution the
  raters asked for. (Plain FID against all real data rises by design when a model specialises,
  so it is the wrong yardstick here.)
"""

from __future__ import annotations

import numpy as np
import torch

from aigc.evaluation.metrics import fid, precision_recall, real_features, resample
from aigc.feedback import features as phi
from aigc.feedback.config import FinetuneConfig
from aigc.feedback.finetune_data import training_images
from aigc.feedback.reward import RewardModel, tilt
from aigc.models.pipeline import ImageModel


def reference_features(parent: ImageModel, fn: phi.FeatureFn, limit: int = 10000) -> np.ndarray:
    """Real images in φ-space: the test split for Fashion-MNIST, else the parent's training data."""
    if phi.uses_judge(parent):
        return real_features("test")[0][:limit].double().numpy()
    images, _ = training_images(parent, FinetuneConfig(self_samples=2000))
    return phi.compute(fn, images[:limit])


def measure_effect(
    parent: ImageModel,
    child: ImageModel,
    fn: phi.FeatureFn,
    reward: RewardModel,
    temperature: float,
    n: int = 1000,
    seed: int = 0,
) -> dict:
    real = reference_features(parent, fn)
    real_t = torch.from_numpy(real)
    w = tilt(reward.predict(real), temperature)
    liked_real = resample(real_t, torch.from_numpy(w / w.sum()), n=min(len(real), 5000), seed=seed)
    out: dict[str, float] = {"eval_n": n}
    for tag, model in (("before", parent), ("after", child)):
        fake = phi.compute(fn, model.sample(n, seed))
        fake_t = torch.from_numpy(fake)
        precision_all, _ = precision_recall(real_t, fake_t)
        _, recall_liked = precision_recall(liked_real, fake_t)
        out[f"mean_reward_{tag}"] = round(float(reward.predict(fake).mean()), 4)
        out[f"precision_all_{tag}"] = round(precision_all, 4)
        out[f"fid_liked_{tag}"] = round(fid(liked_real, fake_t), 3)
        out[f"recall_liked_{tag}"] = round(recall_liked, 4)
    return out
