"""Datasets as float tensors in [-1, 1], shape (N, C, H, W).

Three sources, one output shape, so the training loop never cares where pixels came from:
Fashion-MNIST / MNIST IDX files, a folder of the user's own images, and a tiny synthetic set
that tests can build in milliseconds. Whole datasets are held in memory as one tensor: these
images are tiny (60k × 28 × 28 bytes = 47 MB) and indexing one tensor is far faster on a CPU
than a per-item DataLoader.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import struct
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from tqdm.auto import tqdm

from aigc import paths

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_MIRROR = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FASHION_MNIST_FILES = {
    # file name → md5 published by the dataset's authors (zalandoresearch/fashion-mnist README)
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}
MAX_IMAGE_PIXELS = 64_000_000  # refuse decompression bombs well before they eat memory
DRAFT_MARGIN = 4  # a JPEG is decoded at the smallest scale whose short side is still ≥ this × the size asked
# What one upload may make the server decode: a 265 kB PNG of 8000 × 8000 transparent pixels passes the header
# check above and took 1.5 GB and 2 s to read; three sent to /encode took the server past 2 GB
# (benchmarks/abuse.py). At this bound, ~0.3 GB. A JPEG photo of up to MAX_IMAGE_PIXELS decodes at a reduced
# scale, under it; a training folder is the user's own and keeps MAX_IMAGE_PIXELS alone.
UPLOAD_MAX_DECODED_PIXELS = 16_000_000


class DatasetError(RuntimeError):
    """A dataset could not be found or read; the message says what to do about it."""


@dataclass
class ImageDataset:
    """Images in [-1, 1] as (N, C, H, W) float32, optional integer labels, and where they came from."""

    images: torch.Tensor
    labels: torch.Tensor | None
    name: str

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    @property
    def size(self) -> int:
        return self.images.shape[-1]


# ---------------------------------------------------------------- IDX (Fashion-MNIST, MNIST)


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (gzipped or not) into a numpy array, checking its header against its size."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{path}: cannot read IDX file ({exc}); the file is truncated or not gzip") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DatasetError(f"{path}: not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise DatasetError(f"{path}: IDX header is truncated ({len(raw)} bytes for {ndim} dimensions)")
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims))
    if len(raw) - offset != expected:
        raise DatasetError(f"{path}: header says {expected} values but file holds {len(raw) - offset}")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims)


def user_cache_dir() -> Path:
    """Where a downloaded Fashion-MNIST lives: under the home's datasets folder (`aigc.paths`)."""
    return paths.datasets_dir() / "fashion-mnist"


def candidate_dirs(explicit: str | os.PathLike | None) -> list[tuple[str, Path]]:
    """Where Fashion-MNIST is looked for, in order, each with a label for the error message."""
    found: list[tuple[str, Path]] = []
    if explicit:
        found.append(("--data", Path(explicit)))
    if os.environ.get("AIGC_DATA_DIR"):
        found.append(("$AIGC_DATA_DIR", Path(os.environ["AIGC_DATA_DIR"])))
    found.append(("Debian package dataset-fashion-mnist", DEBIAN_FASHION_MNIST))
    found.append(("user cache", user_cache_dir()))
    return found


def _idx_pair(folder: Path, split: str) -> tuple[Path, Path] | None:
    prefix = "train" if split == "train" else "t10k"
    for suffix in (".gz", ""):
        images = folder / f"{prefix}-images-idx3-ubyte{suffix}"
        labels = folder / f"{prefix}-labels-idx1-ubyte{suffix}"
        if images.exists() and labels.exists():
            return images, labels
    return None


def _download(dest: Path) -> bool:
    """Fetch Fashion-MNIST from its official mirror, verifying md5; False when the network says no."""
    dest.mkdir(parents=True, exist_ok=True)
    for name, md5 in FASHION_MNIST_FILES.items():
        target = dest / name
        if target.exists() and hashlib.md5(target.read_bytes()).hexdigest() == md5:
            continue
        try:
            with urllib.request.urlopen(FASHION_MNIST_MIRROR + name, timeout=10) as response:
                payload = response.read()
        except OSError:
            return False
        if hashlib.md5(payload).hexdigest() != md5:
            raise DatasetError(f"downloaded {name} does not match its published checksum; not using it")
        tmp = target.with_suffix(".part")
        tmp.write_bytes(payload)
        tmp.replace(target)
    return True


def find_idx_dir(explicit: str | os.PathLike | None = None, split: str = "train", download: bool = True) -> Path:
    """The first folder holding the IDX pair for `split`, downloading to the user cache as a last resort."""
    if explicit and not Path(explicit).exists():  # before the search: a mistyped --data must not fall back silently
        raise DatasetError(f"--data {explicit}: no such file or folder")
    candidates = candidate_dirs(explicit)
    for _, folder in candidates:
        if _idx_pair(folder, split):
            return folder
    if download and os.environ.get("AIGC_NO_DOWNLOAD") != "1" and _download(user_cache_dir()):
        return user_cache_dir()
    tried = "\n".join(f"  - {label}: {path}" for label, path in candidates)
    raise DatasetError(
        "Fashion-MNIST IDX files not found. Looked in:\n" + tried + "\n"
        "and could not download them (no network?). Options:\n"
        "  - sudo apt-get install dataset-fashion-mnist   (Debian/Ubuntu)\n"
        "  - pass --data FOLDER holding train-images-idx3-ubyte.gz and friends\n"
        "  - set AIGC_DATA_DIR=FOLDER"
    )


def load_idx_dataset(
    path: str | os.PathLike | None = None, split: str = "train", limit: int | None = None
) -> ImageDataset:
    """Fashion-MNIST (or MNIST: same file names) from the first place that has it."""
    folder = find_idx_dir(path, split)
    pair = _idx_pair(folder, split)
    assert pair is not None
    images = read_idx(pair[0])
    labels = read_idx(pair[1])
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise DatasetError(f"{folder}: images {images.shape} and labels {labels.shape} do not pair up")
    if limit:
        images, labels = images[:limit], labels[:limit]
    tensor = torch.from_numpy(images.copy()).float().div_(127.5).sub_(1.0).unsqueeze(1)  # (N, 1, 28, 28)
    return ImageDataset(tensor, torch.from_numpy(labels.astype(np.int64)), f"fashion-mnist:{split}")


# ---------------------------------------------------------------- a folder of the user's images


class TooManyPixels(ValueError):
    """An image whose header promises more than MAX_IMAGE_PIXELS: refused before it is decoded."""


def eight_bit(img: Image.Image) -> Image.Image:
    """A 16-bit, 32-bit or float greyscale image scaled to 8 bits. PIL's convert("L") clips such values at 255,
    so a 16-bit PNG (medical and scientific images, some scanners) reached the model as a white or black sheet.
    Whole numbers are read at the depth their largest value fits (8, 16 bits, else their maximum); floats as
    0..1 when they fit in it."""
    if img.mode not in ("I", "F") and not img.mode.startswith("I;16"):
        return img
    values = np.nan_to_num(np.asarray(img, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    top = float(values.max(initial=0.0))
    full = 1.0 if img.mode == "F" and top <= 1.0 else 255.0 if top <= 255 else 65535.0 if top <= 65535 else top
    return Image.fromarray(np.clip(np.rint(values * (255.0 / full)), 0, 255).astype(np.uint8), "L")


def load_image_file(
    path: Path | io.BytesIO, size: int, channels: int, max_decoded_pixels: int | None = None
) -> np.ndarray:
    """One image → (size, size, channels) uint8, centre-cropped; raises on anything unreadable.

    The pixel count is read from the header and checked here, before decoding, against our own
    limit: PIL's process-wide `Image.MAX_IMAGE_PIXELS` (and the warnings filter) are left alone,
    since changing them on every call changed them for every other user of PIL in the process.
    PIL's own, higher limit still stops the most extreme files at `Image.open`.

    A photo is turned upright by its EXIF orientation first: a phone stores a portrait photo as landscape
    pixels with a tag saying "rotate", and without it the item reached the model lying on its side.

    A JPEG is decoded at 1/2, 1/4 or 1/8 of its size when that still leaves DRAFT_MARGIN × `size` pixels on
    its short side (JPEG's blocks allow it; `Image.draft`): a 12 MP phone photo is then decoded at 1/8 of its
    sides, 1/64 of the memory, and an upload or a folder of photos is read several times faster
    (`benchmarks/upload_photos.py` measures it). The LANCZOS resize below still averages ≥ 4 × 4 decoded
    pixels into each output pixel. `max_decoded_pixels` bounds what is then decoded (uploads: a visitor's file).
    """
    with Image.open(path) as opened:
        w, h = opened.size
        if w * h > MAX_IMAGE_PIXELS:
            raise TooManyPixels(f"{w}×{h} = {w * h:,}, over {MAX_IMAGE_PIXELS:,}")
        opened.draft(opened.mode, (DRAFT_MARGIN * size, DRAFT_MARGIN * size))  # other formats: no-op
        dw, dh = opened.size  # after the draft: what will be decoded
        if max_decoded_pixels is not None and dw * dh > max_decoded_pixels:
            raise TooManyPixels(
                f"{dw}×{dh} = {dw * dh:,} to decode, over the {max_decoded_pixels:,} an upload may have; save it "
                f"smaller, or as a JPEG (decoded at a reduced scale, up to {MAX_IMAGE_PIXELS:,} pixels)"
            )
        opened.load()
        img: Image.Image = ImageOps.exif_transpose(opened) or opened
        if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
            # a cut-out: on white, as a product photo (converting would keep whatever colour hides under alpha)
            img = Image.alpha_composite(Image.new("RGBA", img.size, (255, 255, 255, 255)), img.convert("RGBA"))
        img = eight_bit(img).convert("L" if channels == 1 else "RGB")
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    img = img.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.LANCZOS)
    arr = np.asarray(img, dtype=np.uint8)
    return arr[:, :, None] if channels == 1 else arr


def load_image_folder(
    folder: str | os.PathLike, size: int = 32, channels: int = 3, limit: int | None = None
) -> ImageDataset:
    """Every readable image under `folder` (recursively; the first `limit` by path); broken ones are skipped
    and counted once."""
    root = Path(folder)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise DatasetError(f"{root}: no images found (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    files = files[:limit] if limit else files
    arrays, broken = [], []
    # a bar on a terminal only (disable=None: not in a log or a page's background run); a folder of photos is long work
    for path in tqdm(files, desc=f"reading {root.name or root}", unit="image", leave=False, disable=None):
        try:
            arrays.append(load_image_file(path, size, channels))
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning):
            broken.append(path.name)
    if broken:
        shown = ", ".join(broken[:5]) + (" …" if len(broken) > 5 else "")
        warnings.warn(f"{root}: skipped {len(broken)} unreadable image(s): {shown}", stacklevel=2)
    if not arrays:
        raise DatasetError(f"{root}: all {len(files)} image files are unreadable")
    stacked = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)
    return ImageDataset(stacked.contiguous(), None, f"folder:{root.resolve()}")


# ---------------------------------------------------------------- synthetic data for tests


def synthetic_dataset(n: int = 256, size: int = 28, channels: int = 1, classes: int = 4, seed: int = 0) -> ImageDataset:
    """Simple labelled shapes (bars at class-dependent positions) that a tiny model learns in a few steps."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, classes, (n,), generator=gen)
    images = -torch.ones(n, channels, size, size)
    band = max(1, size // (2 * classes))
    for c in range(classes):
        rows = slice(c * 2 * band, c * 2 * band + band)
        images[labels == c, :, rows, :] = 1.0
    images += 0.1 * torch.randn(images.shape, generator=gen)
    return ImageDataset(images.clamp_(-1, 1), labels, f"synthetic:{n}x{size}")


def load_dataset(
    spec: str | None, size: int = 28, channels: int = 1, split: str = "train", limit: int | None = None
) -> ImageDataset:
    """Resolve a `--data` value: 'synthetic', an IDX folder, a folder of images, or None (Fashion-MNIST)."""
    if spec == "synthetic":
        return synthetic_dataset(n=limit or 256, size=size, channels=channels)
    if spec and Path(spec).is_file():  # it trained on Fashion-MNIST instead, without a word
        raise DatasetError(
            f"--data {spec}: is a file; give a folder of IDX files or of images, or 'synthetic' "
            "(leave --data out for Fashion-MNIST)"
        )
    if spec and Path(spec).is_dir() and not _idx_pair(Path(spec), split):
        if any(p.name.endswith(("-idx3-ubyte", "-idx3-ubyte.gz")) for p in Path(spec).iterdir()):
            raise DatasetError(f"{spec}: has IDX files but not the {split} split")
        return load_image_folder(spec, size=size, channels=channels, limit=limit)
    dataset = load_idx_dataset(spec, split=split, limit=limit)
    if size != 28:
        dataset.images = torch.nn.functional.interpolate(
            dataset.images, size=(size, size), mode="bilinear", align_corners=False
        )
    if channels == 3:
        dataset.images = dataset.images.repeat(1, 3, 1, 1)
    return dataset


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] → (N, H, W, C) uint8, the format every outside caller gets."""
    arr = images.detach().float().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    return arr.permute(0, 2, 3, 1).cpu().numpy()


def from_uint8(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, C) or (N, H, W) uint8 → (N, C, H, W) float in [-1, 1]."""
    arr = np.asarray(images)
    if arr.ndim == 3:
        arr = arr[..., None]
    return torch.from_numpy(arr.astype(np.float32)).permute(0, 3, 1, 2).div(127.5).sub(1.0).contiguous()


def load_upload(upload, size: int, channels: int) -> np.ndarray:
    """An uploaded image (path, bytes, PIL image or array) → (size, size, channels) uint8.

    Same rules as training folders: decompression bombs refused, non-images named as such.
    """
    if isinstance(upload, np.ndarray):
        arr = upload
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
            raise DatasetError(f"expected an image array (H, W, C), got shape {arr.shape}")
        upload = Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr.astype(np.uint8))
    if isinstance(upload, Image.Image):
        buffer = io.BytesIO()
        upload.save(buffer, format="PNG")
        upload = buffer.getvalue()
    source = io.BytesIO(upload) if isinstance(upload, (bytes, bytearray)) else Path(upload)
    if isinstance(source, Path) and not source.is_file():
        raise DatasetError(f"{source}: no such image file")
    try:
        return load_image_file(source, size, channels, max_decoded_pixels=UPLOAD_MAX_DECODED_PIXELS)
    except TooManyPixels as exc:
        raise DatasetError(f"image refused: too many pixels: {exc}") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DatasetError(
            f"image refused: too many pixels (over {MAX_IMAGE_PIXELS:,}); a decompression bomb?"
        ) from exc
    except Image.UnidentifiedImageError as exc:  # a renamed text file, a PDF: say so in words, not PIL's
        raise DatasetError(
            "not an image file: its content is no PNG, JPEG, WebP, BMP, GIF or TIFF (a renamed file?); upload a picture"
        ) from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise DatasetError(
            f"not a readable image ({type(exc).__name__}: {exc}); upload a PNG, JPEG, WebP or BMP"
        ) from exc
