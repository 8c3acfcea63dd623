"""`load_model` and the object it returns: the one door from checkpoints to images.

A pipeline composes a network with what it needs to serve outsiders: seeded sampling,
decoding, encoding, and the uint8 (N, H, W, C) image format. Networks know nothing of this.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import torch
from torch import nn

from aigc import paths
from aigc.data.datasets import from_uint8, to_uint8
from aigc.models import AnyModel, Generative
from aigc.models.acceptance import MAX_CANDIDATES_PER_SAMPLE, AcceptanceRule, score
from aigc.models.batched import DECODE_CHUNK, infer_cat
from aigc.models.checkpoint import (
    SUFFIX,
    CheckpointError,
    CheckpointRecord,
    file_sha256,
    find_by_weights,
    load_module,
)
from aigc.models.classifier import Classifier
from aigc.models.latent import seeded_latents, seeded_uniform
from aigc.models.prior import MixturePrior
from aigc.models.vae import VAE
from aigc.paths import PRETRAINED_DIR


def models_dirs(extra: str | os.PathLike | None = None) -> list[Path]:
    """Where model names are looked up, in order: an explicit folder, the user's models, the shipped ones."""
    dirs = [Path(extra)] if extra else []
    return dirs + [paths.models_dir(), PRETRAINED_DIR]


def resolve_model_path(name_or_path: str | os.PathLike, models_dir: str | os.PathLike | None = None) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix == SUFFIX or candidate.exists() or os.sep in str(name_or_path):
        return candidate
    for folder in models_dirs(models_dir):
        path = folder / f"{name_or_path}{SUFFIX}"
        if path.exists() and not str(name_or_path).startswith("."):
            return path
    known = sorted(  # not hidden files: a fine-tune still being published (or one a failed run left)
        {p.stem for d in models_dirs(models_dir) if d.is_dir() for p in d.glob(f"*{SUFFIX}") if p.name[0] != "."}
    )
    raise CheckpointError(f"no model named {name_or_path!r}; known models: {', '.join(known) or 'none'}")


class DeviceError(ValueError):
    """The asked-for device does not exist in this torch build or on this machine; the message says what does."""


def pick_device(device: str | None = None) -> torch.device:
    """`auto`/None → CUDA when present, else CPU; an explicit device is checked here, once, with one clear line
    (torch would otherwise fail deep inside the first `.to()` with a 30-line traceback)."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise DeviceError(f"unknown device {device!r}: use cpu, cuda, cuda:1, … or auto") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            build = "a CPU-only torch build" if torch.version.cuda is None else "no usable CUDA GPU"
            raise DeviceError(f"device {device!r} is not available here ({build}); use --device cpu or auto")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(f"device {device!r} does not exist: this machine has {torch.cuda.device_count()} GPU(s)")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError(f"device {device!r} is not available here; use --device cpu or auto")
    return dev


@contextmanager
def reproducible_threads(device: torch.device) -> Iterator[None]:
    """Run the enclosed CPU forward pass on one intra-op thread, then restore the caller's count.

    Why: the same (model, seed, n) must give byte-identical images in every process, replica and
    thread count (permalinks promise it). Measured on torch 2.13 (MKL + oneDNN): the GAN's first layer
    (an MKL sgemm) and the VAE's first transposed convolution (oneDNN) return different float32 bits
    with 2 threads than with 1, 3 or 4, and without `torch.set_num_threads` MKL even picks its thread
    count dynamically, per call, from the machine's load; a float that lands on a rounding edge then
    changes a pixel by one grey level. One thread makes every reduction run in one fixed order.
    Cost: decoding is small (64 GAN images ≈ 35 ms on one core), and `set_num_threads` is per calling
    thread here (OpenMP ICV and MKL's local count), so other threads keep their own budget.
    """
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # even when already 1: it also turns MKL's dynamic thread choice off in this thread
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class Generated:
    images: np.ndarray  # (N, H, W, C) uint8
    latents: np.ndarray  # (N, D) float32


class ImageModel:
    """A loaded GAN or VAE (or classifier) with the outsider-facing contract."""

    def __init__(
        self,
        module: AnyModel,
        record: CheckpointRecord,
        path: Path | None = None,
        device: str | None = None,
        models_dir: str | os.PathLike | None = None,
    ):
        """models_dir: the folder searched first for the network an acceptance rule reads (after the model's own)."""
        self.device = pick_device(device)
        self.module = module.to(self.device).eval()
        self.record = record
        self.path = path
        self.name = path.stem if path else (record.name or module.kind)  # the file name is the model name
        self.sha256 = file_sha256(path) if path else record.weights_sha256
        self.prior = MixturePrior.from_record(record.extra.get("prior"))  # None: z is standard normal
        # None: every draw is a sample; else a GAN keeps the draws its discriminator passes (acceptance.py)
        self.acceptance = AcceptanceRule.from_record(record.extra.get("acceptance"))
        self.acceptance_classifier: Classifier | None = None
        if self.acceptance is not None:
            self.acceptance_classifier = self._load_acceptance_classifier(models_dir)

    @property
    def kind(self) -> str:
        return self.module.kind

    @property
    def _generative(self) -> Generative:
        """The network as one that draws images. Not checked: only GANs and VAEs are served, and a classifier here
        fails on the attribute it lacks (`latent_dim`, `decode`) as it always did."""
        return cast(Generative, self.module)

    @property
    def latent_dim(self) -> int:
        return self._generative.latent_dim

    @property
    def image_shape(self) -> tuple[int, int, int]:
        cfg = self.module.cfg
        return cfg.image_size, cfg.image_size, cfg.channels

    def _load_acceptance_classifier(self, models_dir: str | os.PathLike | None) -> Classifier:
        """The network that calls a candidate's class for the acceptance rule, found among the models by its hash."""
        assert self.acceptance is not None
        if self.kind != "gan":
            raise CheckpointError(f"{self.name} is a {self.kind}; only a GAN's discriminator can accept its samples")
        folders = ([self.path.parent] if self.path else []) + models_dirs(models_dir)
        found = find_by_weights(self.acceptance.classifier_sha256, "classifier", folders)
        if found is None:
            raise CheckpointError(
                f"{self.name} keeps the samples its discriminator passes, class by class, and reads the classes with "
                f"the classifier whose weights hash to {self.acceptance.classifier_sha256[:12]}…, which is in none of "
                f"{', '.join(map(str, folders))}; put that file among the models, or drop the rule with "
                f"`aigc filter {self.name} --off`"
            )
        module, _ = load_module(found)
        if not isinstance(module, Classifier):
            raise CheckpointError(f"{found}: the acceptance rule's network must be a classifier, not a {module.kind}")
        return module.to(self.device).eval()

    def _candidates(self, n: int, seed: int, truncation: float | None = None) -> np.ndarray:
        """The first n draws of `seed`'s stream: standard normal, or through the model's fitted prior."""
        eps = seeded_latents(seed, n, self.latent_dim, truncation).numpy()
        return eps if self.prior is None else self.prior.sample(eps, seeded_uniform(seed, n))

    def _draw(
        self, n: int, seed: int, truncation: float | None, portable: bool
    ) -> tuple[np.ndarray, torch.Tensor | None]:
        """(latents, their pictures as floats, or None when not decoded): the seed's first n draws the acceptance
        rule passes, in stream order, so the first k are the same whatever n is. About n / keep candidates are
        decoded and scored at first; when too few pass, the stream is drawn twice as long and only its new
        candidates are decoded, never past MAX_CANDIDATES_PER_SAMPLE · n + 64; a rule that passes fewer than
        that fills up with the rejected candidates in stream order."""
        if self.acceptance is None or self.acceptance_classifier is None or n <= 0:
            return self._candidates(n, seed, truncation), None
        cap = MAX_CANDIDATES_PER_SAMPLE * n + 64
        wanted = min(cap, int(np.ceil(n / self.acceptance.lowest_keep)) + 8)
        z = np.empty((0, self.latent_dim), np.float32)
        images, passed = torch.empty(0), np.empty(0, bool)
        while True:
            drawn = self._candidates(wanted, seed, truncation)
            if not np.array_equal(drawn[: len(z)], z):  # a stream that is not prefix-stable (truncation): anew
                z, images, passed = z[:0], images[:0], passed[:0]
            fresh = self.decode_float(torch.from_numpy(drawn[len(z) :]), portable)
            with reproducible_threads(self.device) if portable else nullcontext():
                logits, classes = score(discriminator(self), self.acceptance_classifier, fresh)
            z, images = drawn, torch.cat([images.to(fresh), fresh])
            passed = np.concatenate([passed, self.acceptance.kept(logits, classes)])
            if passed.sum() >= n or wanted >= cap:
                break
            wanted = min(cap, wanted * 2)
        kept = np.flatnonzero(passed)
        if len(kept) < n:
            rejected = np.flatnonzero(~passed)
            kept = np.sort(np.concatenate([kept, rejected[: n - len(kept)]]))
        chosen = kept[:n]
        return z[chosen], images.index_select(0, torch.from_numpy(chosen).to(images.device))

    def latents(self, n: int, seed: int, truncation: float | None = None) -> np.ndarray:
        """The n latents of `seed`: standard normal, or through the model's fitted prior when it has one; for a
        GAN with an acceptance rule, the first n of those its discriminator passes (acceptance.py)."""
        return self._draw(n, seed, truncation, portable=True)[0]

    def decode(self, z: np.ndarray | torch.Tensor, portable: bool = True) -> np.ndarray:
        """(N, D) latents → (N, H, W, C) uint8 images, in batched forward passes (`decode_float`)."""
        z = torch.as_tensor(
            np.asarray(z, dtype=np.float32) if not isinstance(z, torch.Tensor) else z, dtype=torch.float32
        )
        if z.ndim == 1:
            z = z[None]
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"{self.name}: latents must have shape (N, {self.latent_dim}), got {tuple(z.shape)}")
        return to_uint8(self.decode_float(z, portable))

    def decode_float(self, z: torch.Tensor, portable: bool = True) -> torch.Tensor:
        """(N, D) float32 latents → (N, C, H, W) floats in [-1, 1], bit-identical whatever the thread count.

        portable=False: on the caller's threads instead of one, for pictures only this process scores (a
        fine-tune's tilt and report): 8,000 GAN pictures took 2.9-3.6 s on two threads against 5.0-6.4 s on one,
        and a pixel may differ by a grey level from another thread count's. What people see stays portable.
        """
        with reproducible_threads(self.device) if portable else nullcontext():
            return infer_cat(self._generative.decode, z.to(self.device), batch=DECODE_CHUNK)

    def sample(self, n: int, seed: int, truncation: float | None = None) -> np.ndarray:
        """n images from seed: the same (n, seed) gives the same images, always."""
        return self.generate(n, seed, truncation).images

    def generate(self, n: int, seed: int, truncation: float | None = None, portable: bool = True) -> Generated:
        z, pictures = self._draw(n, seed, truncation, portable)
        return Generated(self.decode(z, portable) if pictures is None else to_uint8(pictures), z)

    def encode(self, images: np.ndarray) -> np.ndarray:
        """(N, H, W, C) uint8 → (N, D) posterior means. VAEs only."""
        if self.kind != "vae":
            raise TypeError(f"{self.name} is a {self.kind}; only VAEs can encode images")
        vae = self.module
        assert isinstance(vae, VAE)  # kind "vae" is the VAE class's
        arr = np.asarray(images)
        h, w, c = self.image_shape
        if arr.ndim == 3:
            arr = arr[..., None] if c == 1 and arr.shape[1:] == (h, w) else arr[None]
        if arr.shape[1:] != (h, w, c):
            raise ValueError(f"{self.name}: images must be (N, {h}, {w}, {c}) uint8, got {arr.shape}")
        with torch.inference_mode(), reproducible_threads(self.device):  # an upload's latent: same everywhere
            mu, _ = vae.encode(from_uint8(arr).to(self.device))
        return mu.cpu().numpy()

    def __repr__(self) -> str:
        return f"ImageModel(name={self.name!r}, kind={self.kind!r}, latent_dim={self.latent_dim})"


def discriminator(model: ImageModel) -> nn.Module:
    """A GAN model's discriminator, in eval mode: the judge of its own draws in an acceptance rule."""
    module = getattr(model.module, "discriminator", None)
    if not isinstance(module, nn.Module):
        raise TypeError(f"{model.name} is a {model.kind}; only a GAN has a discriminator")
    return module.eval()


def load_model(
    name_or_path: str | os.PathLike, device: str | None = None, models_dir: str | os.PathLike | None = None
) -> ImageModel:
    """Load a shipped model by name ('fashion-gan', 'fashion-vae'), a user model by name, or any checkpoint path."""
    path = resolve_model_path(name_or_path, models_dir)
    module, record = load_module(path)
    if not record.name:
        record.name = path.stem
    return ImageModel(module, record, path, device, models_dir)
