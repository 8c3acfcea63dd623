"""How good, how varied, how liked: domain FID, k-NN precision/recall, and simulated raters.

Features come from the shipped Fashion-MNIST classifier's penultimate layer: Inception features
mean little for 28×28 grey clothes, a classifier trained on them means a lot. The Fréchet distance
itself is torchmetrics' (fed precomputed features through an identity extractor);
precision/recall follow Kynkäänniemi et al. 2019 (k-NN balls around each real/fake feature).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import cast

import numpy as np
import torch
from torch import nn

from aigc import paths
from aigc.data.datasets import from_uint8, load_dataset
from aigc.models.batched import CONV_CHUNK, infer_cat
from aigc.models.checkpoint import load_module
from aigc.models.classifier import Classifier, ClassifierConfig
from aigc.models.pipeline import ImageModel, load_model
from aigc.paths import PRETRAINED_DIR

JUDGE_NAME = "fashion-classifier"


@lru_cache(maxsize=2)
def load_judge(path: str | None = None) -> Classifier:
    """The shipped classifier (or another at `path`), in eval mode, on the CPU.

    A cache that says so: loaded once per process and path (its weights never change while it runs).
    Its weights are kept channels-last: every embedding (the reward's features of 20,000 training images
    on a fresh machine, the tilt's thousands of draws, each effect report) runs 2-3x faster on a CPU,
    features within ~1e-5 of the default layout's.
    """
    module, _ = load_module(path or PRETRAINED_DIR / f"{JUDGE_NAME}.safetensors")
    if isinstance(module, Classifier):
        module.keep_channels_last()
    return cast(Classifier, module.eval())  # not checked: a file of another kind fails on the first `embed`, as ever


def _as_tensor(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    return images.float() if isinstance(images, torch.Tensor) else from_uint8(images)


def embed(images: np.ndarray | torch.Tensor, judge: Classifier | None = None, batch: int = CONV_CHUNK) -> torch.Tensor:
    """(N, H, W, C) uint8 or (N, C, H, W) float in [-1, 1] → (N, E) classifier features."""
    judge = judge or load_judge()
    x = _as_tensor(images)
    return infer_cat(judge.embed, x, batch) if len(x) else torch.empty(0, judge.cfg.embed_dim)


def classify(
    images: np.ndarray | torch.Tensor, judge: Classifier | None = None, batch: int = CONV_CHUNK
) -> torch.Tensor:
    """(N,) predicted class indices."""
    judge = judge or load_judge()
    return infer_cat(lambda chunk: judge(chunk).argmax(1), _as_tensor(images), batch)


class _Features(nn.Module):
    """Identity 'extractor' so torchmetrics' FID consumes features we computed once and cached."""

    def __init__(self, dim: int):
        super().__init__()
        self.num_features = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def fid(real: torch.Tensor, fake: torch.Tensor) -> float:
    """Fréchet distance between two feature sets (N, E)."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    metric = FrechetInceptionDistance(feature=_Features(real.shape[1]), normalize=True)
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    return float(metric.compute())


def _kth_neighbour_radius(x: torch.Tensor, k: int, chunk: int = 2048) -> torch.Tensor:
    radii = []
    for i in range(0, x.shape[0], chunk):
        d = torch.cdist(x[i : i + chunk], x)  # (c, N)
        radii.append(d.kthvalue(k + 1, dim=1).values)  # +1 skips the point itself
    return torch.cat(radii)


def _covered(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    """For each point: does it fall inside any centre's k-NN ball?"""
    hits = []
    for i in range(0, points.shape[0], chunk):
        d = torch.cdist(points[i : i + chunk], centres)  # (c, M)
        hits.append((d <= radii[None, :]).any(dim=1))
    return torch.cat(hits)


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> tuple[float, float]:
    """Precision: share of fakes inside the real manifold; recall: share of reals inside the fake one."""
    return precision(real, fake, k), recall(real, fake, k)


def neighbour_radius(features: torch.Tensor, k: int = 3) -> torch.Tensor:
    """(N,) each point's distance to its k-th nearest neighbour in its own set: the balls of the k-NN manifold.

    Why its own function: the real set's radii cost most of a precision figure (10,000 test images: ~2 s on
    two cores) and do not depend on the fakes, so a report grading parent and child computes them once.
    """
    return _kth_neighbour_radius(features.float(), k)


def precision(real: torch.Tensor, fake: torch.Tensor, k: int = 3, real_radius: torch.Tensor | None = None) -> float:
    """The share of fakes inside the real k-NN manifold (Kynkäänniemi et al. 2019); real_radius: the real
    set's `neighbour_radius`, when already computed."""
    radius = neighbour_radius(real, k) if real_radius is None else real_radius
    if radius.shape != (real.shape[0],):
        raise ValueError(
            f"real_radius must hold one radius per real point ({real.shape[0]}), got {tuple(radius.shape)}"
        )
    return float(_covered(fake.float(), real.float(), radius).float().mean())


def recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> float:
    """The share of reals inside the fakes' k-NN manifold."""
    return float(_covered(real.float(), fake.float(), neighbour_radius(fake, k)).float().mean())


def _feature_cache(split: str, data: str | None) -> Path:
    """Where φ(real split) is cached: keyed by the judge's weights and the dataset files."""
    from aigc.data.datasets import find_idx_dir
    from aigc.models.checkpoint import read_checkpoint

    folder = find_idx_dir(data, split)
    judge_sha = read_checkpoint(PRETRAINED_DIR / f"{JUDGE_NAME}.safetensors")[1].weights_sha256[
        :16
    ]  # weights, not card text
    stamp = max(int(p.stat().st_mtime) for p in folder.iterdir() if p.is_file())
    where = hashlib.sha256(f"{folder.resolve()}:{stamp}".encode()).hexdigest()[:12]
    return cache_dir() / f"features-{judge_sha}-{split}-{where}.safetensors"


def cached_real_features(split: str = "train", data: str | None = None) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The cached (features, labels) if an earlier run computed them, else None (nothing computed)."""
    from safetensors.torch import load_file

    cache = _feature_cache(split, data)
    if not cache.exists():
        return None
    try:
        stored = load_file(cache)
        return stored["features"], stored["labels"]
    except Exception:  # noqa: BLE001 - a damaged cache is only a cache: recompute
        cache.unlink(missing_ok=True)
        return None


@lru_cache(maxsize=4)
def real_features(
    split: str = "test", data: str | None = None, limit: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(features, labels) of real Fashion-MNIST images under the shipped judge.

    Cached in memory per process and on disk under $AIGC_CACHE_DIR (default ~/.cache/aigc): embedding
    60k images costs a minute of CPU and never changes.
    """
    from safetensors.torch import save_file

    cached = cached_real_features(split, data)
    if cached is None:
        dataset = load_dataset(data, split=split)
        cached = (embed(dataset.images), dataset.labels)
        cache = _feature_cache(split, data)
        cache.parent.mkdir(parents=True, exist_ok=True)
        save_file({"features": cached[0].contiguous(), "labels": cached[1].contiguous()}, str(cache))
    feats, labels = cached
    return (feats[:limit], labels[:limit]) if limit else (feats, labels)


def cache_dir() -> Path:
    """The feature cache folder (`aigc.paths.feature_cache_dir`)."""
    return paths.feature_cache_dir()


def resample(features: torch.Tensor, weights: torch.Tensor, n: int | None = None, seed: int = 0) -> torch.Tensor:
    """Draw rows in proportion to weights: the real distribution a rater asked for."""
    gen = torch.Generator().manual_seed(seed)
    idx = torch.multinomial(weights.double(), n or features.shape[0], replacement=True, generator=gen)
    return features[idx]


def judge_reads(image_shape: tuple[int, int, int]) -> bool:
    """Whether the shipped classifier can read images of this (H, W, C) shape: its own config says which."""
    cfg: ClassifierConfig = load_judge().cfg
    return tuple(image_shape) == (cfg.image_size, cfg.image_size, cfg.channels)


def sample_features(model: ImageModel, n: int, seed: int = 0, batch: int = 1000) -> torch.Tensor:
    """(n, E) judge features of a model's first n samples from `seed`, drawn `batch` at a time (seed + offset)."""
    return torch.cat([embed(model.sample(min(batch, n - i), seed + i)) for i in range(0, n, batch)])


def class_gap(classes: np.ndarray, n_classes: int = 10) -> tuple[float, list[float]]:
    """(largest gap of a class's share from a fair 1/n_classes, the shares) of (N,) class indices: the one
    home of the histogram rule that model cards, `model_quality` and `vae_spread` report."""
    shares = np.bincount(np.asarray(classes, np.int64), minlength=n_classes)[:n_classes] / max(1, len(classes))
    return round(float(np.abs(shares - 1 / n_classes).max()), 4), [round(float(s), 4) for s in shares]


def evaluate_model(
    name: str, n: int = 10000, seed: int = 0, data: str | None = None, device: str | None = None, batch: int = 1000
) -> dict:
    """FID / precision / recall of a model's samples against the test split, beside the real-vs-real floor."""
    model = load_model(name, device=device)
    test_feats, _ = real_features("test", data)
    fake = sample_features(model, n, seed, batch)
    train_feats, _ = real_features("train", data, limit=n)
    p, r = precision_recall(test_feats[:n], fake)
    classes = classify_features(fake)
    histogram = torch.bincount(classes, minlength=10)
    fp, fr = precision_recall(test_feats[:n], train_feats[:n])
    return {
        "model": model.name,
        "n": n,
        "seed": seed,
        "fid": round(fid(test_feats, fake), 3),
        "precision": round(p, 4),
        "recall": round(r, 4),
        "floor_fid_train_vs_test": round(fid(test_feats, train_feats[:n]), 3),
        "floor_precision": round(fp, 4),
        "floor_recall": round(fr, 4),
        "class_histogram": histogram.tolist(),
        # the largest gap between a class's share and a fair 1/10: a model that drops or floods a class shows here
        "histogram_max_deviation": class_gap(classes.numpy())[0],
    }


def classify_features(features: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return load_judge().head(features).argmax(1)


@dataclass
class SimulatedRater:
    """A rater who likes some Fashion-MNIST classes, judged by the shipped classifier: +1 liked, -1 not."""

    liked_classes: tuple[int, ...]
    name: str = "simulated"

    def rate(self, images: np.ndarray) -> np.ndarray:
        classes = classify(images).numpy()
        return np.where(np.isin(classes, self.liked_classes), 1.0, -1.0)

    def liked_rate(self, images: np.ndarray) -> float:
        return float((self.rate(images) > 0).mean())
