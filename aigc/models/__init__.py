"""Models: the networks and their configs (this module's registry), how they are stored
(`checkpoint`, `cards`) and how they are used (`pipeline.ImageModel`: seeded latents, `prior`, decode).

Importing the package gives only the networks: no I/O, no training, no pipelines.
"""

from aigc.models.classifier import Classifier, ClassifierConfig
from aigc.models.gan import GAN, GANConfig
from aigc.models.vae import VAE, VAEConfig

CONFIGS = {"gan": GANConfig, "vae": VAEConfig, "classifier": ClassifierConfig}
MODELS = {"gan": GAN, "vae": VAE, "classifier": Classifier}

__all__ = ["GAN", "GANConfig", "VAE", "VAEConfig", "Classifier", "ClassifierConfig", "CONFIGS", "MODELS"]
