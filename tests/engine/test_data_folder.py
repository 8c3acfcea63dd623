"""A folder of the user's own images: nested folders, mixed sizes and formats, broken files, bombs."""

from __future__ import annotations

import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from aigc.data import datasets as data
from aigc.data.datasets import DatasetError, from_uint8, load_dataset, load_image_folder, to_uint8


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def bomb_png(path: Path, side: int = 9000) -> Path:
    """A valid 1-bit PNG of side² pixels (81 M > MAX_IMAGE_PIXELS) that is only a few kB on disk."""
    row = b"\x00" + b"\x00" * ((side + 7) // 8)  # filter byte + packed bits
    idat = zlib.compress(row * side, 9)
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    )
    return path


def stripes(w: int, h: int) -> Image.Image:
    """Blue | green | red thirds: a centre crop of a 3:1 image is pure green."""
    arr = np.zeros((h, w, 3), np.uint8)
    arr[:, : w // 3, 2] = 255
    arr[:, w // 3 : 2 * w // 3, 1] = 255
    arr[:, 2 * w // 3 :, 0] = 255
    return Image.fromarray(arr)


@pytest.fixture
def folder(tmp_path):
    """4 good images (PNG/JPEG/BMP, RGB/grey/RGBA, different sizes, nested) and 3 broken ones."""
    root = tmp_path / "pics"
    (root / "sub" / "deeper").mkdir(parents=True)
    stripes(60, 20).save(root / "a.png")  # sorted first: images[0]
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(root / "sub" / "b.jpg", quality=90)
    Image.fromarray(rng.integers(0, 256, (50, 100), dtype=np.uint8), mode="L").save(root / "sub" / "deeper" / "c.PNG")
    Image.fromarray(rng.integers(0, 256, (33, 47, 4), dtype=np.uint8), mode="RGBA").save(root / "sub" / "d.bmp")
    big = root / "sub" / "big.jpg"
    Image.fromarray(rng.integers(0, 256, (200, 200, 3), dtype=np.uint8)).save(big, quality=90)
    (root / "sub" / "trunc.jpg").write_bytes(big.read_bytes()[: big.stat().st_size // 2])
    big.unlink()
    (root / "notes.png").write_text("not a picture, just text with a .png name\n")
    bomb_png(root / "sub" / "deeper" / "bomb.png")
    (root / "readme.txt").write_text("ignored: not an image suffix")
    return root


def load_with_warnings(*args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = load_image_folder(*args, **kwargs)
    return ds, [w for w in caught if issubclass(w.category, UserWarning)]


@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_good_images_load_broken_ones_skipped_in_one_warning(folder, size, channels):
    ds, warned = load_with_warnings(folder, size=size, channels=channels)
    assert ds.images.shape == (4, channels, size, size) and ds.images.dtype == torch.float32
    assert ds.images.min() >= -1.0 and ds.images.max() <= 1.0
    assert ds.labels is None and ds.name.startswith("folder:")
    assert len(warned) == 1, [str(w.message) for w in warned]
    msg = str(warned[0].message)
    assert "skipped 3 unreadable" in msg
    for name in ("trunc.jpg", "notes.png", "bomb.png"):
        assert name in msg


def test_centre_crop_and_colour(folder):
    rgb, _ = load_with_warnings(folder, size=32, channels=3)
    first = rgb.images[0]  # a.png: blue | green | red → the centre square is green
    assert first[1].min().item() > 0.95
    assert first[0].max().item() < -0.95 and first[2].max().item() < -0.95
    grey, _ = load_with_warnings(folder, size=32, channels=1)
    expected = round(0.587 * 255) / 127.5 - 1  # PIL's luma of pure green
    assert abs(grey.images[0].mean().item() - expected) < 0.02


def test_a_phone_photo_is_turned_upright_by_its_exif_orientation(tmp_path):
    """A portrait photo stored as landscape pixels with EXIF Orientation 6 ("rotate 90° clockwise to show")."""
    upright = np.zeros((64, 48), np.uint8)
    upright[:16] = 255  # a white band across the top of the picture as a person sees it
    stored = np.rot90(upright, k=1)  # how the camera wrote the pixels: the picture turned 90° anticlockwise
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    Image.fromarray(np.ascontiguousarray(stored)).save(tmp_path / "photo.jpg", exif=exif, quality=95)
    Image.fromarray(upright).save(tmp_path / "upright.png")
    photo = data.load_upload(tmp_path / "photo.jpg", 28, 1)[:, :, 0].astype(int)
    reference = data.load_upload(tmp_path / "upright.png", 28, 1)[:, :, 0].astype(int)
    assert photo[:4].mean() > 200 and photo[-4:].mean() < 50  # the band on top, as shown
    assert np.abs(photo - reference).mean() < 8  # the same picture (JPEG's losses aside)


@pytest.mark.parametrize("channels", [1, 3])
def test_a_16_bit_or_float_greyscale_image_reads_as_its_8_bit_twin(tmp_path, channels):
    """PIL's convert("L") clips 16-bit values at 255: a 16-bit gradient used to reach the model all white."""
    ramp = np.tile(np.linspace(0.0, 1.0, 64), (64, 1))
    Image.fromarray(np.rint(ramp * 65535).astype(np.uint16)).save(tmp_path / "deep.png")
    Image.fromarray(ramp.astype(np.float32), "F").save(tmp_path / "float.tif")
    Image.fromarray(np.rint(ramp * 255).astype(np.uint8)).save(tmp_path / "eight.png")
    eight = data.load_image_file(tmp_path / "eight.png", 28, channels).astype(int)
    assert eight[:, 0].mean() < 10 and eight[:, -1].mean() > 245  # the ramp itself
    for name in ("deep.png", "float.tif"):
        with Image.open(tmp_path / name) as opened:
            assert opened.mode in ("I;16", "I", "F")  # the modes the test is about
        twin = data.load_image_file(tmp_path / name, 28, channels).astype(int)
        assert np.abs(twin - eight).max() <= 1, name


def test_a_big_jpeg_is_decoded_small_and_reads_as_the_full_decode(tmp_path, monkeypatch):
    """A 2400 × 1800 photo for a 28-pixel model: decoded at 1/8 of its sides (225 ≥ 4 × 28 rows), not in full."""
    rng = np.random.default_rng(0)
    photo = (rng.random((1800, 2400)) * 30 + 200).astype(np.uint8)  # a light, slightly noisy page
    photo[400:1400, 800:1600] = 40  # a dark item in the middle
    photo[400:600, 800:1600] = 120  # with a lighter band across its top
    Image.fromarray(photo).save(tmp_path / "big.jpg", quality=90)
    with Image.open(tmp_path / "big.jpg") as full:  # the reference: every pixel decoded, then the same crop and resize
        full_grey = full.convert("L").crop((300, 0, 2100, 1800)).resize((28, 28), Image.Resampling.LANCZOS)
    decoded_sizes = []
    real_transpose = data.ImageOps.exif_transpose

    def noting_size(image, **kwargs):
        decoded_sizes.append(image.size)
        return real_transpose(image, **kwargs)

    monkeypatch.setattr(data.ImageOps, "exif_transpose", noting_size)
    small = data.load_image_file(tmp_path / "big.jpg", 28, 1)[:, :, 0].astype(int)
    assert decoded_sizes == [(300, 225)]  # 1/8 scale; the short side still ≥ DRAFT_MARGIN × 28
    assert np.abs(small - np.asarray(full_grey, int)).mean() < 2  # the same picture, to a grey level or two
    assert data.load_image_file(tmp_path / "big.jpg", 64, 1).shape == (64, 64, 1)
    assert decoded_sizes[1] == (600, 450)  # for 64 pixels, 1/4: 1/8 would leave 225 < 4 × 64 rows


def test_an_upload_may_decode_only_so_many_pixels_but_a_big_jpeg_is_decoded_small(tmp_path, monkeypatch):
    """A small file can hold a huge PNG (8000 × 8000 transparent pixels in 265 kB: 1.5 GB to read). An upload
    is refused past UPLOAD_MAX_DECODED_PIXELS, counted after the JPEG draft; a training folder is not bounded so."""
    monkeypatch.setattr(data, "UPLOAD_MAX_DECODED_PIXELS", 40_000)
    Image.new("RGBA", (300, 300), (10, 20, 30, 128)).save(tmp_path / "wide.png")  # 90,000 pixels to decode
    Image.new("L", (1600, 1200), 200).save(tmp_path / "photo.jpg")  # 1.92 M, decoded at 1/8: 200 × 150 = 30,000
    with pytest.raises(data.DatasetError, match=r"too many pixels: 300×300 = 90,000 to decode, over the 40,000"):
        data.load_upload(tmp_path / "wide.png", 28, 1)
    assert data.load_upload(tmp_path / "photo.jpg", 28, 1).shape == (28, 28, 1)
    folder, _ = load_with_warnings(tmp_path, size=28, channels=1)
    assert len(folder) == 2  # the user's own folder reads both


def test_max_image_pixels_is_enforced(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)  # restored after the test
    monkeypatch.setattr(data, "MAX_IMAGE_PIXELS", 100 * 100)
    Image.new("RGB", (64, 64), (10, 20, 30)).save(tmp_path / "small.png")
    Image.new("RGB", (120, 120), (10, 20, 30)).save(tmp_path / "over.png")  # 1.44 × the limit: a warning in PIL
    Image.new("RGB", (300, 300), (10, 20, 30)).save(tmp_path / "far-over.png")  # 9 × the limit: an error in PIL
    ds, warned = load_with_warnings(tmp_path, size=28, channels=3)
    assert len(ds) == 1
    assert len(warned) == 1 and "skipped 2" in str(warned[0].message)


def test_only_broken_files_is_a_clear_error(tmp_path):
    (tmp_path / "a.png").write_text("text")
    (tmp_path / "b.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DatasetError, match="all 2 image files are unreadable") as err:
            load_image_folder(tmp_path)
    assert str(tmp_path) in str(err.value)


def test_empty_folder_is_a_clear_error(tmp_path):
    (tmp_path / "empty" / "nested").mkdir(parents=True)
    (tmp_path / "empty" / "notes.txt").write_text("no pictures here")
    with pytest.raises(DatasetError, match="no images found") as err:
        load_image_folder(tmp_path / "empty")
    assert str(tmp_path / "empty") in str(err.value)
    with pytest.raises(DatasetError, match="not a folder"):
        load_image_folder(tmp_path / "missing")


def test_load_dataset_routes_an_image_folder(folder):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = load_dataset(str(folder), size=32, channels=3)
    assert ds.images.shape == (4, 3, 32, 32)


def test_uint8_round_trip():
    arr = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1)
    x = from_uint8(arr)
    assert x.shape == (1, 1, 16, 16) and x.min() == -1.0 and x.max() == 1.0
    np.testing.assert_array_equal(to_uint8(x), arr)
    assert from_uint8(arr[..., 0]).shape == (1, 1, 16, 16)
