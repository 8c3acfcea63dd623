"""Models: the networks and their configs (this module's registry), how they are stored
(`checkpoint`, `cards`) and how they are used (`pipeline.ImageModel`: seeded latents, `prior`, decode).

Importing the package gives only the networks: no I/O, no training, no pipelines.
"""

from collections.abc import Callable
from typing import Any, TypeAlias

from aigc.models.classifier import Classifier, ClassifierConfig
from aigc.models.gan import GAN, GANConfig
from aigc.models.vae import VAE, VAEConfig

AnyModel: TypeAlias = GAN | VAE | Classifier
"""Any network a checkpoint holds. Why a union, not `nn.Module`: torch types every attribute it does not know
(`kind`, `cfg`, `latent_dim`, ...) as a tensor or module, which hides what the code reads. Each model's `kind`
is a literal, so `model.kind == "vae"` narrows the union to the VAE."""
Generative: TypeAlias = GAN | VAE
"""The networks that draw images: they have a `latent_dim` and `decode`; a classifier has neither."""

CONFIGS = {"gan": GANConfig, "vae": VAEConfig, "classifier": ClassifierConfig}
MODELS: dict[str, Callable[[Any], AnyModel]] = {"gan": GAN, "vae": VAE, "classifier": Classifier}

__all__ = ["GAN", "GANConfig", "VAE", "VAEConfig", "Classifier", "ClassifierConfig", "CONFIGS", "MODELS"]
