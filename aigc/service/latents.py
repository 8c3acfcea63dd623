"""Work in a model's latent space: sampling, decoding, encoding uploads, paths, breeding, slider axes, taste.

Split out of `Studio` (aigc.service.studio, the facade the page calls) so that everything that turns
latents into images and back lives in one place. Every latent a visitor sends is checked against
`Limits` here, and every image that reaches a person is recorded as a `Sample` (with its latent and
model version) before it is returned. Who may see a model and what it costs them is the facade's
business: it hands in `admit`, called before any image is made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from aigc.data.datasets import DatasetError, load_upload
from aigc.data.images import border_level, image_sha256, match_background
from aigc.feedback.ratings import usable_ratings
from aigc.feedback.taste import taste_direction
from aigc.models.latent import interpolation_path
from aigc.service.axes import LatentAxes, gan_axes, vae_axes
from aigc.service.errors import StudioError
from aigc.service.limits import Limits
from aigc.service.registry import ModelRegistry
from feedback_db import FeedbackStore


def truncation_used(kind: str, truncation: float | None) -> float | None:
    """The truncation a draw of a `kind` model uses: a GAN's as asked; None for a VAE, whose prior has none."""
    return truncation if kind == "gan" else None


@dataclass(frozen=True)
class SampleBatch:
    model: str
    seed: int
    images: np.ndarray  # (N, H, W, C) uint8
    latents: np.ndarray  # (N, D) float32
    sample_ids: list[int]
    truncation: float = 0.0  # what the draw used: a GAN's (0: off); a VAE has none, so 0 whatever was asked


@dataclass(frozen=True)
class Encoded:
    latent: np.ndarray  # (D,) float32: the VAE's latent mean
    negated: bool  # the picture was negated first, its background being the opposite of the model's
    pixels: np.ndarray | None = None  # (H, W, C) uint8: the picture as the model read it (resized, negated if so)


Admit = Callable[[str, "str | None", int], None]  # (model, rater, images): refuse (StudioError) or book them


class LatentSpace:
    """Latents in, images out (and back), for the models of one registry."""

    def __init__(self, registry: ModelRegistry, store: FeedbackStore, limits: Limits, admit: Admit):
        self.registry = registry
        self.store = store
        self.limits = limits
        self.admit = admit  # the facade's visibility check and quota charge
        self._axes: dict[str, LatentAxes] = {}  # computed once per model, under the registry's lock
        self._backgrounds: dict[str, float] = {}  # likewise

    def sample(
        self, name: str, n: int, seed: int, rater: str | None = None, truncation: float | None = None
    ) -> SampleBatch:
        """n seeded images, each recorded as a Sample before it is returned."""
        n, seed, truncation = self.limits.images(n), self.limits.seed(seed), self.limits.truncation(truncation)
        model = self.registry.model(name)
        self.admit(name, rater, n)
        used = truncation_used(model.kind, truncation)
        generated = model.generate(n, seed, used)
        ids = self.store.record_samples(
            self.registry.version(name).id,
            generated.latents,
            seed=seed,
            source="sample",
            rater_id=rater,
            image_sha256s=[image_sha256(img) for img in generated.images],
        )
        return SampleBatch(name, seed, generated.images, generated.latents, ids, truncation=float(used or 0.0))

    def decode(self, name: str, z: np.ndarray) -> np.ndarray:
        """One latent → one (H, W, C) uint8 image. Not recorded: the slider path must stay fast."""
        return self.registry.model(name).decode(self.check_latent(name, z)[None])[0]

    def decode_many(self, name: str, latents: np.ndarray) -> np.ndarray:
        return self.registry.model(name).decode(np.stack([self.check_latent(name, z) for z in latents]))

    def show(
        self,
        name: str,
        latents: np.ndarray,
        source: str,
        rater: str | None = None,
        seed: int = 0,
        admitted: bool = False,
    ) -> tuple[np.ndarray, list[int]]:
        """Decode latents once and record them as Samples: (images, sample ids), for grids and strips.
        `admitted`: the caller already charged them (before work of its own, as picking images to rate)."""
        rows = np.atleast_2d(latents)
        if not 1 <= len(rows) <= self.limits.max_images:
            raise StudioError(f"number of images must be from 1 to {self.limits.max_images}, got {len(rows)}")
        latents = np.stack([self.check_latent(name, z) for z in rows])
        if not admitted:
            self.admit(name, rater, len(latents))
        images = self.registry.model(name).decode(latents)
        ids = self.store.record_samples(
            self.registry.version(name).id,
            latents,
            seed=seed,
            source=source,
            rater_id=rater,
            image_sha256s=[image_sha256(img) for img in images],
        )
        return images, ids

    def check_latent(self, name: str, z) -> np.ndarray:
        return self.limits.latent(z, self.registry.model(name).latent_dim, f"a latent of {name}")

    def latent_of(self, name: str, seed: int, index: int = 0, truncation: float | None = None) -> np.ndarray:
        """The index-th latent of a seed's batch (index bounded: it costs index + 1 draws)."""
        seed, index, truncation = self.limits.seed(seed), self.limits.index(index), self.limits.truncation(truncation)
        model = self.registry.model(name)
        return model.latents(index + 1, seed, truncation_used(model.kind, truncation))[index]

    def axes(self, name: str) -> LatentAxes:
        """Slider axes: VAE dims by KL, GAN principal directions. Computed once per model."""
        name = self.limits.model_name(name)
        with self.registry.lock:
            if name not in self._axes:
                model = self.registry.model(name)
                self._axes[name] = (
                    vae_axes(model.latent_dim, model.record.extra.get("latent_kl"))
                    if model.kind == "vae"
                    else gan_axes(model.module.generator)
                )
            return self._axes[name]

    def encode(self, name: str, upload) -> Encoded:
        """An uploaded image (path, bytes, PIL or array) → the VAE's latent mean, the picture negated first when
        its background is the opposite of the model's (`images.match_background`: a photo on a white table)."""
        model = self.registry.model(name)
        if model.kind != "vae":
            raise StudioError(f"{name} is a GAN: it has no encoder; pick a VAE to upload an image")
        h, _, c = model.image_shape
        upload = self.limits.upload(upload)
        try:
            pixels = load_upload(upload, size=h, channels=c)
        except DatasetError as exc:
            raise StudioError(str(exc)) from exc
        pixels, negated = match_background(pixels, self.background(name))
        return Encoded(model.encode(pixels[None])[0], negated, pixels)

    def background(self, name: str) -> float:
        """The grey level of the model's own backgrounds (the border of 64 of its samples), once per model."""
        with self.registry.lock:
            if name not in self._backgrounds:
                self._backgrounds[name] = border_level(self.registry.model(name).generate(64, 0).images)
            return self._backgrounds[name]

    def interpolate(self, name: str, z_a: np.ndarray, z_b: np.ndarray, steps: int = 8) -> tuple[np.ndarray, np.ndarray]:
        """Slerp path a → b: (steps, H, W, C) images and their latents."""
        path = self.interpolation_latents(name, z_a, z_b, steps)
        return self.registry.model(name).decode(path), path

    def interpolation_latents(self, name: str, z_a: np.ndarray, z_b: np.ndarray, steps: int = 8) -> np.ndarray:
        """The slerp path's latents alone, for callers that decode and record them in one `show`."""
        steps = self.limits.steps(steps)
        return interpolation_path(self.check_latent(name, z_a), self.check_latent(name, z_b), steps).astype(np.float32)

    def children(self, name: str, z: np.ndarray, n: int = 8, strength: float = 0.5, seed: int = 0) -> np.ndarray:
        """Breed: n latents near z (z + strength·noise), as Picbreeder's mutations."""
        z = self.check_latent(name, z)
        n, strength, seed = self.limits.children(n), self.limits.strength(strength), self.limits.seed(seed)
        rng = np.random.default_rng(seed)
        return (z[None] + strength * rng.standard_normal((n, z.shape[0]))).astype(np.float32)

    def cross(self, name: str, z_a: np.ndarray, z_b: np.ndarray, seed: int = 0, mix: float = 0.5) -> np.ndarray:
        """A child of two latents: each coordinate from a or b (uniform crossover), as Artbreeder's gene mix."""
        a, b = self.check_latent(name, z_a), self.check_latent(name, z_b)
        mask = np.random.default_rng(self.limits.seed(seed)).random(a.shape[0]) < mix
        return np.where(mask, b, a).astype(np.float32)

    def taste(self, name: str, rater: str | None = None) -> np.ndarray | None:
        """The 'my taste' direction: normal of a linear separator of liked vs disliked latents of this lineage."""
        rated = usable_ratings(self.store, self.registry.version(name).id, self.registry.model(name).latent_dim, rater)
        if len(rated) < 4:
            return None
        return taste_direction(np.stack([r.latent for r in rated]), np.array([r.score for r in rated]))
