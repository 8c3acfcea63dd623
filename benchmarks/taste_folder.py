"""A user's own image folder for the feedback-loop benchmark: no labels, no shipped classifier.

The benchmark writes a folder of PNG files it draws itself (one shape per picture: ellipse, box or
triangle, of random size, proportions, brightness and stripes), trains a VAE on it, and asks the loop to
follow an appearance taste there: the path a person with their own pictures takes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SIZE = 28


def draw(rng: np.random.Generator) -> np.ndarray:
    """One 28×28 grey picture: a shape on black, its size, proportions, brightness and stripes at random."""
    img = Image.new("L", (SIZE, SIZE), 0)
    pen = ImageDraw.Draw(img)
    w, h = rng.integers(6, 26), rng.integers(6, 26)
    x0, y0 = rng.integers(0, SIZE - w + 1), rng.integers(0, SIZE - h + 1)
    level = int(rng.integers(70, 256))
    box = (int(x0), int(y0), int(x0 + w - 1), int(y0 + h - 1))
    shape = rng.integers(3)
    if shape == 0:
        pen.ellipse(box, fill=level)
    elif shape == 1:
        pen.rectangle(box, fill=level)
    else:
        pen.polygon([(box[0], box[3]), (box[2], box[3]), ((box[0] + box[2]) // 2, box[1])], fill=level)
    arr = np.asarray(img).copy()
    if rng.random() < 0.4:  # stripes: a texture that cuts across shapes
        arr[::2] = (arr[::2] * 0.5).astype(np.uint8)
    return arr


def make_folder(root: Path, n: int = 3000, seed: int = 0) -> Path:
    """Write n pictures under root/my-pictures (in two sub-folders, as a person's photos would be)."""
    folder = root / "my-pictures"
    rng = np.random.default_rng(seed)
    for i in range(n):
        sub = folder / ("album-a" if i % 2 else "album-b")
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(draw(rng), mode="L").save(sub / f"pic_{i:05d}.png")
    return folder


def train_parent(folder: Path, models_dir: Path, steps: int, seed: int = 0) -> str:
    """A VAE trained on the folder for `steps` (setup, not part of the loop's time); returns its model name."""
    import torch

    from aigc.data.datasets import load_dataset
    from aigc.models.checkpoint import CheckpointRecord
    from aigc.models.vae import VAE, VAEConfig
    from aigc.training.loop import TrainConfig, save_final, train

    torch.manual_seed(seed)
    data = load_dataset(str(folder))
    model = VAE(VAEConfig(latent_dim=16, width=16, hidden=128))
    name = "folder-vae"
    record = CheckpointRecord(kind="vae", config={}, name=name, dataset=data.name)
    cfg = TrainConfig(
        out_dir=str(models_dir.parent / "run-folder"), steps=steps, batch_size=64, progress=False, sample_every=0
    )
    train(model, data, cfg, record)
    models_dir.mkdir(parents=True, exist_ok=True)
    save_final(models_dir / f"{name}.safetensors", model, record)
    return name
