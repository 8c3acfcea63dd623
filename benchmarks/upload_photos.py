"""What a person's own photo becomes in the explorer: the VAE's reconstruction of photo-like uploads.

Fashion-MNIST draws a light item on black (its product photos were negated); a person's photo of a garment
is a dark item on a light page. This turns test images into such photos (negated; rotated and tagged with
EXIF Orientation 6, as a phone writes a portrait photo) and uploads them through `Studio.encode`, the path
of the explorer's 📤 and `/encode`. Each reconstruction is graded against the original test image (mean
absolute difference, grey levels 0–255) beside two references: the test image encoded as it is, and the photo
encoded without the studio's preparation (what the studio did before stop 47).

Then the size of a real phone photo: `--big` of the photos at 3024 × 4032 (12 MP, a JPEG stored on its side
with the EXIF tag), read by `load_image_file` (decoded at reduced scale, `Image.draft`) beside the same steps
with every pixel decoded (how it read them before stop 48), in the same run: the median time of each, and
the reconstruction error of the big photos.

    python benchmarks/upload_photos.py [--model fashion-vae] [--n 200] [--big 20]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from aigc.data.datasets import load_idx_dataset, load_image_file, to_uint8
from aigc.service.studio import Studio


def stored_on_its_side(picture: Image.Image, path: Path, quality: int) -> None:
    """As a phone stores a portrait photo: a JPEG of the pixels turned 90° anticlockwise, tagged with EXIF
    Orientation 6 ("rotate 90° clockwise to show")."""
    exif = Image.Exif()
    exif[0x0112] = 6
    picture.rotate(90, expand=True).save(path, exif=exif, quality=quality)


def photo(item: np.ndarray, path: Path, phone: bool) -> None:
    """A test image as a person's photo: a dark item on a light page; `phone`: stored on its side with the tag."""
    grey = Image.fromarray(255 - item[:, :, 0])
    if phone:
        stored_on_its_side(grey, path.with_suffix(".jpg"), quality=95)
    else:
        grey.save(path.with_suffix(".png"))


def big_phone_photo(item: np.ndarray, path: Path) -> None:
    """A test image as a 12 MP phone photo: the item 3024 px wide on a white page 4032 tall, stored on its side."""
    grey = Image.fromarray(255 - item[:, :, 0]).resize((3024, 3024), Image.Resampling.LANCZOS)
    page = Image.new("L", (3024, 4032), 255)
    page.paste(grey, (0, 504))
    stored_on_its_side(page, path, quality=90)


def read_every_pixel(path: Path, size: int) -> np.ndarray:
    """`load_image_file`'s steps for a greyscale model without `Image.draft`: what it did before stop 48."""
    with Image.open(path) as opened:
        opened.load()
        img = (ImageOps.exif_transpose(opened) or opened).convert("L")
    side = min(img.size)
    left, top = (img.width - side) // 2, (img.height - side) // 2
    return np.asarray(img.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.LANCZOS))


def median_ms(read, path: Path) -> float:
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        read(path)
        times.append(1000 * (time.perf_counter() - t0))
    return float(np.median(times))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fashion-vae")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--big", type=int, default=20, help="how many photos also as 12 MP phone photos")
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
        size = model.image_shape[0]  # a greyscale model (as the photos above): (size, size, 1)
        big_errors, full_errors, draft_ms, full_ms = [], [], [], []
        for k, item in enumerate(items[: args.big]):
            path = Path(tmp) / f"big-{k}.jpg"
            big_phone_photo(item, path)
            big_errors.append(error(studio.encode(args.model, path).latent, item))
            every_pixel = 255 - read_every_pixel(path, size)[None, :, :, None]  # negated, as the studio does with these
            full_errors.append(error(model.encode(every_pixel)[0], item))
            draft_ms.append(median_ms(lambda p: load_image_file(p, size, 1), path))
            full_ms.append(median_ms(lambda p: read_every_pixel(p, size), path))
        background = studio.latents.background(args.model)
    line = {
        "benchmark": "upload_photos",
        "model": args.model,
        "n": len(items),
        "model_background": round(background, 1),
        "negated_share": round(negated / (2 * len(items)), 3),
        **{f"error_{key}": round(float(np.mean(values)), 1) for key, values in errors.items()},
        "big_photos": len(big_errors),
        "error_big_phone_photo": round(float(np.mean(big_errors)), 1) if big_errors else None,
        "error_big_phone_photo_every_pixel": round(float(np.mean(full_errors)), 1) if full_errors else None,
        "read_ms_big_photo": round(float(np.median(draft_ms)), 1) if draft_ms else None,
        "read_ms_big_photo_every_pixel": round(float(np.median(full_ms)), 1) if full_ms else None,
    }
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
