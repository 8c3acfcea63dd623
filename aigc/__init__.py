"""AIGC Studio engine: models, the one training loop, checkpoints, latents, rewards, fine-tuning."""

import os

# numpy's linear algebra here is on matrices of at most a few hundred columns (reward models, mixture
# fits), where OpenBLAS's worker threads only spin against torch and the server for the same cores:
# one fit_reward took 445 s with its default threads on a busy 2-core machine and 1.4 s with one.
# Set before numpy is first imported; a user's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from aigc.models.checkpoint import CheckpointError
from aigc.models.pipeline import ImageModel, load_model

__all__ = ["load_model", "ImageModel", "CheckpointError"]
__version__ = "0.1.0"
