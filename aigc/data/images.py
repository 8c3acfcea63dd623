"""Image plumbing with no torch: grids, PNG/GIF bytes, hashes. Shared by the CLI, the studio and benchmarks."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
from PIL import Image


def make_grid(images: np.ndarray, nrow: int | None = None, pad: int = 2, pad_value: int = 255) -> np.ndarray:
    """(N, H, W, C) uint8 → one (H', W', C) uint8 mosaic, `nrow` images per row (default: square-ish)."""
    n, h, w, c = images.shape
    nrow = nrow or max(1, int(np.ceil(np.sqrt(n))))
    rows = int(np.ceil(n / nrow))
    grid = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), pad_value, dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[top : top + h, left : left + w] = images[i]
    return grid


def to_pil(image: np.ndarray, upscale: int = 1) -> Image.Image:
    """(H, W, C) uint8 → PIL image, grey when C == 1; optional nearest-neighbour upscaling for display."""
    pil = Image.fromarray(image[:, :, 0] if image.shape[-1] == 1 else image)
    if upscale > 1:
        pil = pil.resize((pil.width * upscale, pil.height * upscale), Image.Resampling.NEAREST)
    return pil


def save_grid(images: np.ndarray, path: str | Path, nrow: int | None = None, upscale: int = 1) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    to_pil(make_grid(images, nrow), upscale).save(path)
    return path


def gif_bytes(frames: np.ndarray, upscale: int = 4, duration_ms: int = 80) -> bytes:
    """(N, H, W, C) uint8 → an animated GIF that plays forth and back."""
    pils = [to_pil(f, upscale) for f in frames]
    pils = pils + pils[-2:0:-1]
    buffer = io.BytesIO()
    pils[0].save(buffer, format="GIF", save_all=True, append_images=pils[1:], duration=duration_ms, loop=0)
    return buffer.getvalue()


def image_sha256(image: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()


def border_level(images: np.ndarray, width: int = 2) -> float:
    """Mean grey level (0–255) of the outer `width` pixels of (N, H, W, C) or (H, W, C) images: the background."""
    arr = np.asarray(images, dtype=np.float32)
    arr = arr[None] if arr.ndim == 3 else arr
    inner = np.zeros(arr.shape[1:3], bool)
    inner[width:-width, width:-width] = True
    return float(arr[:, ~inner].mean())


def match_background(image: np.ndarray, model_background: float) -> tuple[np.ndarray, bool]:
    """(H, W, C) uint8 negated when its background is the opposite of the model's: (image, whether negated).

    Why: Fashion-MNIST draws a light item on black (its product photos were negated), and a photo of a
    garment on a white table, encoded as it is, lands far from anything the VAE knows. A model trained on
    light backgrounds (a user's own folder) keeps a light-background upload as it is.
    """
    own = border_level(image)
    if abs(own - model_background) > 128 and abs(255.0 - own - model_background) < abs(own - model_background):
        return (255 - image).astype(np.uint8), True
    return image, False
