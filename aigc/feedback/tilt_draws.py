"""A parent's tilt draws and their reward features, computed once per parent and kept on disk.

Why: a GAN's run tilts its parent before training (`finetune`, `train_latents="tilt"`): 8,000 draws
decoded and embedded, ~7 s of a loop whose target is one minute. Those pictures and their features are
the same for every run of that parent (the same seed stream, the same features); only the reward model
that scores them is the run's own. So the server's warm-up computes them while people rate (or the first
run does) and every run reads them back: it tilts exactly as if it had decoded them itself.

Only a cache (under $AIGC_CACHE_DIR, safe to delete): a file that does not read back, or whose stored
pictures no longer give the stored features (the feature code changed), is computed again. Safetensors,
never a pickle. At most MAX_FILES parents are kept, the least recently used go first.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from aigc import paths
from aigc.feedback.features import RewardFeatures
from aigc.feedback.latent_prior import draw_for_tilt
from aigc.models.pipeline import ImageModel

MAX_FILES = 6  # ~17 MB each at 8,000 draws (float64: a tilt from the cache is the tilt from fresh draws)
CHECK_ROWS = 16  # stored pictures whose features are recomputed on every read: a stale cache shows there


def cache_folder() -> Path:
    return paths.feature_cache_dir() / "tilt-draws"


def cache_path(model: ImageModel, rf: RewardFeatures, draws: int, seed: int) -> Path:
    """One file per (parent's weights and sampling rule, draws, seed, feature view)."""
    extra = model.record.extra
    key = json.dumps(
        [
            model.sha256,
            extra.get("prior"),
            extra.get("acceptance"),
            draws,
            seed,
            rf.name,
            list(rf.blocks),
        ],
        sort_keys=True,
        default=str,
    )
    return cache_folder() / f"{model.name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.safetensors"


def parent_draws(model: ImageModel, rf: RewardFeatures, draws: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(z (draws, D) float64, φ_r of their pictures (draws, F) float64): the draws `tilted_prior` would make
    of `model` with this seed, read from the cache, or decoded, embedded and stored there."""
    path = cache_path(model, rf, draws, seed)
    cached = _read(path, rf, draws, model.latent_dim)
    if cached is not None:
        return cached
    generated = draw_for_tilt(model, draws, seed)
    latents = np.asarray(generated.latents, np.float64)
    features = np.asarray(rf.compute(generated.images), np.float64)
    with contextlib.suppress(OSError):  # a full disk or a read-only cache folder: the run goes on without it
        _write(path, latents, features, generated.images[:CHECK_ROWS])
    return latents, features


def is_cached(model: ImageModel, rf: RewardFeatures, draws: int, seed: int) -> bool:
    return cache_path(model, rf, draws, seed).exists()


def _read(path: Path, rf: RewardFeatures, draws: int, latent_dim: int) -> tuple[np.ndarray, np.ndarray] | None:
    if not path.exists():
        return None
    from safetensors.numpy import load_file

    try:
        stored = load_file(str(path))
        latents, features, pictures = stored["latents"], stored["features"], stored["pictures"]
        width = sum(d for _, d in rf.blocks)
        fits = latents.shape == (draws, latent_dim) and features.shape == (draws, width)
        if not fits or not np.allclose(rf.compute(pictures), features[: len(pictures)], rtol=1e-4, atol=1e-6):
            raise ValueError("stale")
    except Exception:  # noqa: BLE001 - a damaged or stale cache is only a cache: compute it again
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # recently used: the last to be evicted
    return latents, features


def _write(path: Path, latents: np.ndarray, features: np.ndarray, pictures: np.ndarray) -> None:
    from safetensors.numpy import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")  # whole or not at all, even beside another run
    os.close(handle)
    try:
        save_file(
            {
                "latents": np.ascontiguousarray(latents),
                "features": np.ascontiguousarray(features),
                "pictures": np.ascontiguousarray(pictures),
            },
            tmp,
        )
        os.chmod(tmp, 0o644)  # as the other cache files (mkstemp's file is the owner's alone)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    _evict(path.parent)


def _evict(folder: Path) -> None:
    """Keep the MAX_FILES most recently used files (another process may be removing some at the same time)."""
    used: list[tuple[float, Path]] = []
    for file in folder.glob("*.safetensors"):
        try:
            used.append((file.stat().st_mtime, file))
        except FileNotFoundError:
            continue
    for _, old in sorted(used, reverse=True)[MAX_FILES:]:
        old.unlink(missing_ok=True)


def warm_parent_draws(model: ImageModel) -> bool:
    """Ahead of a GAN's first run (a server's warm-up, while people rate): its tilt draws at the run defaults.
    True when it computed them; False when there is nothing to do (not a kind that tilts its parent, or cached)."""
    from aigc.feedback.config import KIND_DEFAULTS, FinetuneConfig
    from aigc.feedback.features import reward_features

    defaults = KIND_DEFAULTS.get(model.kind, {})
    if defaults.get("train_latents") != "tilt":
        return False
    rf = reward_features(model)
    draws, seed = int(defaults["tilt_draws"]), FinetuneConfig.seed
    if is_cached(model, rf, draws, seed):
        return False
    parent_draws(model, rf, draws, seed)
    return True
