"""A perceptual distance for training: how differently a small, frozen classifier sees two images.

Why: the ELBO's per-pixel term lets a decoder average thin details away. A coat's opening is a
line one or two pixels wide; drawing it a pixel off costs more than not drawing it, so the shipped
VAE's reconstructions turned 299 of 1,000 test coats into pullovers. A distance between a
classifier's activations cares about exactly the details that tell one garment from another.

The distance follows LPIPS (Zhang et al. 2018) without its learned layer weights: the activations
after each ReLU of the network's feature stack are unit-normalised over channels, and the squared
differences are averaged over positions and summed over layers.

The network must not be the judge. `aigc evaluate` and the simulated raters read the shipped
classifier; the VAE's recipe trains a separate, narrower one (`aigc train classifier --width 8
--seed 1`) for this term only, so the figures on the card are not read by the network the VAE was
trained to please (both still learned from the same labels: the card says so).

A GAN has no reconstruction to compare with, so its generator is pulled towards the nearest real
training image of each picture it draws (`NearestRealImages`, nearest under the same network's
embedding). The adversarial loss alone left four in ten of the shipped GAN's pictures with a flaw the
judge notices (a smear, a broken strap: precision 0.62); the pull removes the speckle that no real image
has, while the discriminator still asks for the variety of the whole training set.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from aigc.models.checkpoint import (
    CheckpointError,
    CheckpointRecord,
    find_by_weights,
    load_module,
    read_checkpoint,
    tensors_sha256,
)
from aigc.models.classifier import Classifier


def _unit(t: torch.Tensor) -> torch.Tensor:
    return t / (t.pow(2).sum(1, keepdim=True).sqrt() + 1e-8)


class PerceptualDistance(nn.Module):
    """distance(x, y) → (B,): LPIPS-style distance between images in [-1, 1] under a frozen classifier."""

    def __init__(self, classifier: nn.Module):
        super().__init__()
        if not isinstance(classifier, Classifier):
            raise ValueError("a perceptual distance needs a classifier checkpoint (`aigc train classifier`)")
        self.net = classifier.eval().requires_grad_(False)
        # the judge's layout (Classifier.keep_channels_last): the tilt's realism score (5,000 keys and 8,000 draws
        # embedded) took 1.5-2.1 s for 2.7-3.1 on two CPU cores; a training step, whose batches the loop already
        # keeps channels-last, measured within noise (104-123 ms against 106-120)
        classifier.keep_channels_last()
        self.features: nn.Sequential = classifier.features
        self.image_size = classifier.cfg.image_size
        self.channels = classifier.cfg.channels

    @classmethod
    def load(cls, path: str | Path) -> PerceptualDistance:
        model, _ = load_module(path)
        try:
            return cls(model)
        except ValueError as exc:
            raise CheckpointError(f"{path}: {exc}; it holds a {model.kind}") from None

    def check_images(self, shape: tuple[int, ...]) -> None:
        """Refuse a model whose images the network was not trained on, before the first step rather than at it."""
        if tuple(shape[-3:]) != (self.channels, self.image_size, self.image_size):
            raise ValueError(
                f"the perceptual network reads {self.channels}×{self.image_size}×{self.image_size} images; "
                f"this model's are {'×'.join(map(str, shape[-3:]))}"
            )

    def train(self, mode: bool = True) -> PerceptualDistance:
        """Always in eval mode: BatchNorm's statistics and the dropout stay as the network was trained."""
        return super().train(False)

    def _taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        taps = []
        x = Classifier.in_layout(x)  # the weights' layout (a no-op for the loop's batches)
        for layer in self.features:
            x = layer(x)
            if isinstance(layer, nn.ReLU):
                taps.append(x)
        return taps

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, E) unit-length embeddings of images in [-1, 1]: what `NearestRealImages` searches by."""
        return nn.functional.normalize(self.net.embed(x), dim=1)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x: the targets (no gradient needed), y: the images being trained; both (B, C, H, W) in [-1, 1]."""
        with torch.no_grad():
            targets = self._taps(x)
        distance = torch.zeros(x.shape[0], device=x.device, dtype=y.dtype)
        for a, b in zip(targets, self._taps(y)):
            squared = (_unit(a) - _unit(b)).pow(2).sum(1)
            distance = distance + (squared.flatten(1).mean(1) if squared.dim() > 1 else squared)
        return distance


class NearestRealImages:
    """For each generated image, the real training image the perceptual network finds most like it.

    The keys (unit embeddings of every training image) are computed once, 128 floats an image (31 MB for
    Fashion-MNIST's 60,000); a step's search is one (B × N) matrix product, a few milliseconds.
    """

    def __init__(self, distance: PerceptualDistance, images: torch.Tensor, chunk: int = 2048):
        self.distance, self.images = distance, images
        self._radii: dict[int, torch.Tensor] = {}
        with torch.no_grad():
            self.keys = torch.cat([distance.embed(images[i : i + chunk]) for i in range(0, len(images), chunk)])

    def __call__(self, generated: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) generated images → (B, C, H, W) their nearest real images (no gradient)."""
        with torch.no_grad():
            nearest = (self.distance.embed(generated) @ self.keys.T).argmax(1)
        return self.images.index_select(0, nearest)

    @torch.no_grad()
    def realism(self, generated: torch.Tensor, k: int = 3, chunk: int = 2048) -> torch.Tensor:
        """(B,) the realism score of Kynkäänniemi et al. (2019): the largest r_j / ‖e − key_j‖ over the real
        keys j, with e the image's embedding and r_j key j's distance to its k-th nearest other key. 1 or more:
        the image is inside some real image's k-NN ball, the test the precision figure counts.

        Why not the nearest image's cosine similarity (the score before): real images crowd in some places
        and thin out in others, and a nearest similarity calls a clean draw where they are thin less real than a
        flawed draw where they crowd; each real image's radius sets its
        own scale. As the tilt's realism filter it met precision, recall and liked rate together in more runs
        (docs/FEEDBACK_MEASUREMENTS.md, "The realism score").
        """
        radius = self._radius(k)
        parts = [generated[i : i + chunk] for i in range(0, len(generated), chunk)]
        return torch.cat(
            [
                (radius[None, :] / torch.cdist(self.distance.embed(part), self.keys).clamp_min(1e-6)).amax(1)
                for part in parts
            ]
        )

    def _radius(self, k: int, chunk: int = 1024) -> torch.Tensor:
        """(N,) each key's distance to its k-th nearest other key, computed once per k."""
        if not 1 <= k < len(self.keys):
            raise ValueError(f"k must be between 1 and {len(self.keys) - 1} (the real images less one), got {k}")
        cached = self._radii.get(k)
        if cached is None:
            rows = [torch.cdist(self.keys[i : i + chunk], self.keys) for i in range(0, len(self.keys), chunk)]
            cached = self._radii[k] = torch.cat([r.kthvalue(k + 1, dim=1).values for r in rows])
        return cached


def provenance(path: str | Path, weight: float) -> dict:
    """What a model's record keeps about the perceptual network it was trained with: the network is not shipped,
    so its card must say how to make it again (command), what it cost (wall time, part of the training
    budget) and which one it was (the tensors' sha256)."""
    tensors, record, _ = read_checkpoint(path)
    return {
        "command": record.training.get("command"),
        "wall_time_s": record.training.get("wall_time_s"),
        "test_accuracy": record.extra.get("test_accuracy"),
        "weights_sha256": tensors_sha256(tensors),
        "weight": weight,
    }


def inherited(record: CheckpointRecord, search: list[Path]) -> tuple[Path, float] | None:
    """(file, weight) of the perceptual network the model of `record` was last trained with, found among the
    `.safetensors` files in `search` by its weights' hash; None when it was trained without one, or the
    network is not there.

    Why: a fine-tune that continues such a model with the ELBO alone undoes what the term taught its
    decoder (its children came out less precise than the parent); continuing with the same term keeps it.
    """
    stages = [record.training, *reversed(record.training.get("stages", []))]
    stage = next((s for s in stages if s.get("perceptual_network")), None)
    if stage is None or not stage["perceptual_network"].get("weights_sha256"):
        return None
    network = stage["perceptual_network"]
    weight = float(network.get("weight") or (stage.get("config") or {}).get("perceptual_weight") or 0)
    if weight <= 0:
        return None
    found = find_by_weights(network["weights_sha256"], "classifier", search)
    return (found, weight) if found is not None else None
