"""What a person's own photo becomes in the explorer: the VAE's reconstruction of photo-like uploads.

Fashion-MNIST draws a light item on black (its product photos were negated); a person's photo of a garment
is a dark item on a light page. This turns test images into such photos (negated; rotated and tagged with
EXIF Orientation 6, as a phone writes a portrait photo) and uploads them through `Studio.encode`, the path
of the explorer's 📤 and `/encode`. Each reconstruction is graded against the original test image (mean
absolute difference, grey levels 0–255) beside two references: the test image encoded as it is, and the photo
encoded without the studio's preparation (what the studio did before stop 47).

    python benchmarks/upload_photos.py [--model fashion-vae] [--n 200]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from aigc.data.datasets import load_idx_dataset, to_uint8
from aigc.service.studio import Studio


def photo(item: np.ndarray, path: Path, phone: bool) -> None:
    """A test image as a person's photo: a dark item on a light page; `phone`: stored on its side with the tag."""
    grey = 255 - item[:, :, 0]
    if phone:
        exif = Image.Exif()
        exif[0x0112] = 6  # Orientation: rotate 90° clockwise to show
        Image.fromarray(np.ascontiguousarray(np.rot90(grey, k=1))).save(path.with_suffix(".jpg"), exif=exif, quality=95)
    else:
        Image.fromarray(grey).save(path.with_suffix(".png"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fashion-vae")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    items = to_uint8(load_idx_dataset(None, split="test", limit=args.n).images)  # (N, 28, 28, 1)
    errors: dict[str, list[float]] = {"test_image": [], "photo_unprepared": [], "photo": [], "phone_photo": []}
    negated = 0
    with tempfile.TemporaryDirectory() as tmp, Studio.open(f"sqlite:///{tmp}/bench.sqlite3") as studio:
        model = studio.model(args.model)

        def error(latent: np.ndarray, item: np.ndarray) -> float:
            return float(np.abs(model.decode(latent[None])[0].astype(float) - item).mean())

        for k, item in enumerate(items):
            errors["test_image"].append(error(model.encode(item[None])[0], item))
            errors["photo_unprepared"].append(error(model.encode((255 - item)[None])[0], item))
            for key, phone in (("photo", False), ("phone_photo", True)):
                path = Path(tmp) / f"{key}-{k}"
                photo(item, path, phone)
                encoded = studio.encode(args.model, path.with_suffix(".jpg" if phone else ".png"))
                negated += encoded.negated
                errors[key].append(error(encoded.latent, item))
        background = studio.latents.background(args.model)
    line = {
        "benchmark": "upload_photos",
        "model": args.model,
        "n": len(items),
        "model_background": round(background, 1),
        "negated_share": round(negated / (2 * len(items)), 3),
        **{f"error_{key}": round(float(np.mean(values)), 1) for key, values in errors.items()},
    }
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
