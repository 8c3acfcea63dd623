"""How well a VAE reproduces images it never trained on: an error figure and a picture for its model card.

Why both: a sampling metric (FID) cannot tell "blurry decoder" from "bad prior"; the reconstruction
of held-out test images isolates the decoder, and people judge sharpness faster from a grid than
from a number. The same split answers "whose fault is a class gap?": when the shipped classifier
already calls the reconstructions of real coats pullovers, no prior can draw coats; the decoder must
learn to draw what sets a coat apart.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aigc.data.datasets import load_dataset, to_uint8
from aigc.data.images import save_grid
from aigc.evaluation.metrics import class_gap, classify, judge_reads
from aigc.models.pipeline import ImageModel

GRID_COLUMNS = 16


def reconstruct(model: ImageModel, images: np.ndarray, batch: int = 500) -> np.ndarray:
    """(N, H, W, C) uint8 → the VAE's decoding of each image's posterior mean, same shape and dtype."""
    return np.concatenate([model.decode(model.encode(images[i : i + batch])) for i in range(0, len(images), batch)])


def reconstruction_report(
    model: ImageModel,
    data: str | None = None,
    n: int = 2000,
    grid_path: Path | None = None,
    judge_classes: bool | None = None,
) -> dict:
    """Mean absolute and squared pixel error (pixels in [0, 1]) on the first n test images; optional grid PNG.

    The grid: rows in pairs, test images above their reconstructions, GRID_COLUMNS per row, 4 pairs.
    judge_classes: also the shipped classifier's class shares of the reconstructions and of the test images
    themselves, and each one's largest gap from a fair tenth. None: whenever the judge can read the model's
    images (28×28 greyscale); True insists, and refuses images it cannot read.
    """
    test = load_dataset(data, split="test", size=model.image_shape[0], channels=model.image_shape[2])
    real = to_uint8(test.images[:n])
    recon = reconstruct(model, real)
    diff = (real.astype(np.float64) - recon.astype(np.float64)) / 255.0
    if grid_path is not None:
        rows = [slice(r * GRID_COLUMNS, (r + 1) * GRID_COLUMNS) for r in range(4)]
        pairs = [block for row in rows for block in (real[row], recon[row])]
        save_grid(np.concatenate(pairs), grid_path, nrow=GRID_COLUMNS, upscale=2)
    report: dict = {
        "recon_n": int(len(real)),
        "recon_mae": round(float(np.abs(diff).mean()), 4),
        "recon_mse": round(float((diff**2).mean()), 5),
    }
    readable = judge_reads(model.image_shape)
    if judge_classes and not readable:
        raise ValueError(f"{model.name}: the shipped classifier reads 28×28 greyscale, not {model.image_shape}")
    if readable and judge_classes is not False:
        report["recon_class_gap"], report["recon_class_shares"] = class_gap(classify(recon).numpy())
        report["test_class_gap"], report["test_class_shares"] = class_gap(classify(real).numpy())
    return report
