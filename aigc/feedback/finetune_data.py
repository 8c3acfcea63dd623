"""The data a fine-tuning run learns from: the parent's training images (or its own samples) and the
rated images, each decoded by the version that showed it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from aigc.data.datasets import DatasetError, from_uint8, load_dataset
from aigc.feedback import features as phi
from aigc.feedback.config import FinetuneConfig
from aigc.feedback.ratings import usable_picks, usable_ratings
from aigc.models.pipeline import ImageModel, load_model
from aigc.training.perceptual import NearestRealImages, PerceptualDistance
from feedback_db import FeedbackStore


def _dataset_spec(dataset: str | None) -> str | None:
    """The --data value that reloads a checkpoint's recorded dataset."""
    if not dataset or dataset.startswith("fashion-mnist"):
        return None
    if dataset.startswith("folder:"):
        return dataset.split(":", 1)[1]
    if dataset.startswith("synthetic"):
        return "synthetic"
    return dataset


def training_images(parent: ImageModel, cfg: FinetuneConfig) -> tuple[torch.Tensor, str]:
    """The data the parent learned from; failing that, its own samples (then p* ∝ p_parent·exp(r/β) exactly)."""
    h, _, c = parent.image_shape
    spec = cfg.data if cfg.data is not None else _dataset_spec(parent.record.dataset)
    try:
        limit = 256 if spec == "synthetic" else None
        dataset = load_dataset(spec, size=h, channels=c, limit=limit)
        return dataset.images, dataset.name
    except DatasetError:
        images = np.concatenate(
            [parent.sample(min(1000, cfg.self_samples - i), 10_000 + i) for i in range(0, cfg.self_samples, 1000)]
        )
        return from_uint8(images), f"samples of {parent.name}"


def training_set(
    parent: ImageModel, cfg: FinetuneConfig, fn: phi.FeatureFn | None
) -> tuple[torch.Tensor, np.ndarray, str]:
    """(images, φ(images), name): a seeded random subset of at most cfg.max_examples training images.

    φ is `fn`, the learned view; `RewardFeatures.compute(images, learned=...)` adds the appearance columns.
    fn None: the reward model does not read the learned view (an appearance taste), so the images are not
    embedded at all (N, 0): on a machine without the judge's cache that saves ~40 s of a run.

    A few hundred steps never see more than ~20k examples, so embedding all 60k would be wasted
    work; for Fashion-MNIST the judge's features come from the on-disk cache when an earlier run made it.
    """
    images, name = training_images(parent, cfg)
    keep = torch.randperm(len(images), generator=torch.Generator().manual_seed(cfg.seed))[: cfg.max_examples]
    keep = keep.sort().values
    if fn is None:
        return images[keep], np.zeros((len(keep), 0)), name
    if phi.uses_judge(parent) and name == "fashion-mnist:train" and cfg.data is None:
        from aigc.evaluation.metrics import cached_real_features

        cached = cached_real_features("train")  # φ is the judge here: reuse what an earlier run embedded
        if cached is not None and len(cached[0]) == len(images):
            return images[keep], cached[0][keep].double().numpy(), name
    return images[keep], phi.compute(fn, images[keep]), name


def warm_training_features(parent: ImageModel) -> bool:
    """Embed the Fashion-MNIST training and test sets into the judge's on-disk cache, once, if they are not there.

    Why: a run reads the learned view of 20,000 training images (`training_set`), and its report measures
    the child against the test images (`effect.reference`); on a fresh machine the first run embedded them
    itself (~40 s, then ~12 s + ~8 s, of a loop whose target is one minute). A server calls this in the
    background at start, while the person is still rating (all 60,000 training images take 75 s on one core).
    True when it computed either cache; False when there was nothing to do (another dataset, no judge, no
    data, or already cached).
    """
    if not phi.uses_judge(parent) or _dataset_spec(parent.record.dataset) is not None:
        return False
    from aigc.evaluation.metrics import cached_real_features, real_features

    computed = False
    for split in ("train", "test"):
        try:
            if cached_real_features(split) is None:
                real_features(split)
                computed = True
        except DatasetError:  # not here: runs fall back to the parent's own samples, reports to what they find
            continue
    return computed


def _decode_by_version(store: FeedbackStore, items: list[tuple[int, np.ndarray]]) -> list[np.ndarray]:
    """(version id, latent) pairs → uint8 images, each decoded by the version that showed it (one load per version)."""
    by_version: dict[int, list[int]] = {}
    for i, (vid, _) in enumerate(items):
        by_version.setdefault(vid, []).append(i)
    images: list[np.ndarray] = [np.zeros(0)] * len(items)
    for vid, rows in by_version.items():
        version = store.get_version(vid)
        assert version is not None  # the ids come from the lineage's stored versions (usable_ratings, usable_picks)
        model = load_model(version.checkpoint_path)
        for i, img in zip(rows, model.decode(np.stack([items[i][1] for i in rows]))):
            images[i] = img
    return images


def rated_images(
    store: FeedbackStore, version_id: int, latent_dim: int, rater: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """Each rated latent decoded by the version that showed it: the very images people judged."""
    rated = usable_ratings(store, version_id, latent_dim, rater)
    if not rated:
        return np.zeros((0,)), np.zeros((0,))
    images = _decode_by_version(store, [(r.version_id, r.latent) for r in rated])
    return np.stack(images), np.array([r.score for r in rated], np.float64)


def picked_images(
    store: FeedbackStore, version_id: int, latent_dim: int, rater: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """The blind A/B picks as two image stacks (picked, other), (P, H, W, C) each; empty when there are none."""
    picks = usable_picks(store, version_id, latent_dim, rater)
    if not picks:
        return np.zeros((0,)), np.zeros((0,))
    images = _decode_by_version(store, [(s.version_id, s.latent) for p in picks for s in (p.picked, p.other)])
    return np.stack(images[0::2]), np.stack(images[1::2])


REALISM_BANK = 5000  # real images the tilt's realism score compares with (keys: ~2 s on one core)


def realism_score(network: tuple[Path, float] | None, real: torch.Tensor) -> Callable[[np.ndarray], np.ndarray] | None:
    """pictures (N, H, W, C) uint8 → (N,) their realism score (Kynkäänniemi et al. 2019,
    `NearestRealImages.realism`) among `real`'s first REALISM_BANK images under `network`, the perceptual
    network the parent was trained with (`perceptual.inherited`); None when it has none (a model of a
    user's own folder) or the network is not among the models.

    Why: the tilt keeps the draws the reward model likes, and a flawed draw (speckle, a smear, a half-drawn
    sole) is liked as readily as a clean one of the same kind; its children's precision fell below the
    parent's. The network is the one the parent's training already read, never the judge that grades.
    """
    if network is None:
        return None
    distance = PerceptualDistance.load(network[0])
    try:
        distance.check_images(tuple(real.shape))
    except ValueError:
        return None
    with torch.no_grad():
        bank = NearestRealImages(distance, real[:REALISM_BANK].float())

    def score(pictures: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return bank.realism(from_uint8(pictures)).double().numpy()

    return score
