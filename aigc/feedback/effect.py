"""Parent vs child on the same seeds: did the fine-tune move towards what was liked, and what did it cost?

Graded honestly (issue 13): nothing here is judged by the reward model that steered the run.
- `mean_reward`: the share of samples a person would like, estimated by the *cross-fitted* fold
  models (`RewardModel.predict_heldout`: each fitted without one fold of the ratings), beside their
  held-out accuracy and calibration (`reward_heldout_*`) and a plain-words confidence;
- precision against ALL real images: are the images still realistic? and FID against all real
  images, which no reward model touches;
- FID and recall against the real images drawn in proportion to the fold models' P(liked) (β = 1:
  p(x | liked), the distribution the rater asked for);
- the kinds histogram (classes, or k-means clusters for a user's folder) of parent and child: a
  collapse onto one kind is visible even when every other figure looks good.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from aigc.data.datasets import FASHION_MNIST_CLASSES, load_dataset
from aigc.evaluation.metrics import fid, neighbour_radius, precision, real_features, recall, resample
from aigc.feedback import features as phi
from aigc.feedback.calibration import confidence
from aigc.feedback.config import FinetuneConfig
from aigc.feedback.finetune_data import training_images
from aigc.feedback.kinds import cluster_kinds, largest_share, nearest
from aigc.feedback.reward import RewardModel
from aigc.models.pipeline import ImageModel


def reference(parent: ImageModel, rf: phi.RewardFeatures, limit: int = 10000) -> tuple[torch.Tensor, np.ndarray]:
    """Real images and their learned features: the test split for Fashion-MNIST, else the parent's training data."""
    if phi.uses_judge(parent):
        images = load_dataset(None, split="test", limit=limit).images
        return images, real_features("test")[0][: len(images)].double().numpy()
    images, _ = training_images(parent, FinetuneConfig(self_samples=2000))
    images = images[:limit]
    return images, phi.compute(rf.learned, images)


def kind_assigner(parent: ImageModel, real_learned: np.ndarray) -> tuple[tuple[str, ...], str, Callable]:
    """(names, 'class' or 'cluster', learned features → kind index)."""
    if phi.uses_judge(parent):
        from aigc.evaluation.metrics import classify_features

        return FASHION_MNIST_CLASSES, "class", lambda f: classify_features(torch.from_numpy(f).float()).numpy()
    kinds, mean, std = cluster_kinds(real_learned, k=8)
    assert kinds.centres is not None
    return kinds.names, "cluster", lambda f: nearest((f - mean) / std, kinds.centres)


def measure_effect(
    parent: ImageModel,
    child: ImageModel,
    rf: phi.RewardFeatures,
    reward: RewardModel,
    n: int = 1000,
    seed: int = 0,
) -> dict:
    real_images, real_learned = reference(parent, rf)
    real_t = torch.from_numpy(real_learned)
    p_real = reward.predict_heldout(rf.compute(real_images, learned=real_learned))
    liked_real = resample(real_t, torch.from_numpy(p_real / p_real.sum()), n=min(len(real_t), 5000), seed=seed)
    real_radius = neighbour_radius(real_t)  # parent and child are graded against the same real manifold
    names, label, assign = kind_assigner(parent, real_learned)
    level, words = confidence(reward.heldout) if reward.heldout else ("unknown", "")
    out: dict = {
        "eval_n": n,
        "graded_by": "cross-fitted reward models (each fitted without one fold of the ratings)",
        "confidence": level,
        "confidence_text": words,
        "kinds_label": label,
        "kinds_names": list(names),
        **{f"reward_{k}": v for k, v in reward.heldout.items()},
        "reward_flip": reward.flip,
        "reward_features_used": "+".join(reward.blocks_used),
        "reward_steering_views": len(reward.alternatives) + 1,  # the chosen view and those it could not rule out
    }
    for tag, model in (("before", parent), ("after", child)):
        images = model.generate(n, seed, portable=False).images  # graded here, never shown: any thread count
        fake = phi.compute(rf.learned, images)
        fake_t = torch.from_numpy(fake)
        precision_all = precision(real_t, fake_t, real_radius=real_radius)
        recall_liked = recall(liked_real, fake_t)
        hist = np.bincount(assign(fake), minlength=len(names)).tolist()
        out[f"mean_reward_{tag}"] = round(float(reward.predict_heldout(rf.compute(images, learned=fake)).mean()), 4)
        out[f"precision_all_{tag}"] = round(precision_all, 4)
        out[f"fid_all_{tag}"] = round(fid(real_t, fake_t), 3)
        out[f"fid_liked_{tag}"] = round(fid(liked_real, fake_t), 3)
        out[f"recall_liked_{tag}"] = round(recall_liked, 4)
        out[f"kinds_{tag}"] = hist
        out[f"largest_kind_share_{tag}"] = round(largest_share(hist), 4)
    return out
