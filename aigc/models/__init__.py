"""The networks and their configs, nothing else: no I/O, no training, no pipelines."""

from aigc.models.classifier import Classifier, ClassifierConfig
from aigc.models.gan import GAN, GANConfig
from aigc.models.vae import VAE, VAEConfig

CONFIGS = {"gan": GANConfig, "vae": VAEConfig, "classifier": ClassifierConfig}
MODELS = {"gan": GAN, "vae": VAE, "classifier": Classifier}

__all__ = ["GAN", "GANConfig", "VAE", "VAEConfig", "Classifier", "ClassifierConfig", "CONFIGS", "MODELS"]
