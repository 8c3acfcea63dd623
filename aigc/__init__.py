"""AIGC Studio engine: models, the one training loop, checkpoints, latents, rewards, fine-tuning."""

from aigc.models.checkpoint import CheckpointError
from aigc.models.pipeline import ImageModel, load_model

__all__ = ["load_model", "ImageModel", "CheckpointError"]
__version__ = "0.1.0"
