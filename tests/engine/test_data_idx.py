"""Fashion-MNIST IDX files: reading, validation, and where they are looked for."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from aigc.data import datasets as data
from aigc.data.datasets import DatasetError, find_idx_dir, load_dataset, load_idx_dataset, read_idx


def idx_bytes(arr: np.ndarray) -> bytes:
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    return bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def write_idx(path: Path, arr: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = idx_bytes(arr)
    path.write_bytes(gzip.compress(payload) if path.name.endswith(".gz") else payload)
    return path


def write_split(
    folder: Path, split: str = "train", n: int = 12, gz: bool = True, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A fake IDX pair with n images whose pixels cover 0 and 255; returns (images, labels)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255
    labels = (np.arange(n) % 10).astype(np.uint8)
    prefix = "train" if split == "train" else "t10k"
    suffix = ".gz" if gz else ""
    write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels)
    return images, labels


@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_gzipped_and_plain(tmp_path, gz):
    arr = np.arange(2 * 3 * 5, dtype=np.uint8).reshape(2, 3, 5)
    path = write_idx(tmp_path / ("x-idx3-ubyte.gz" if gz else "x-idx3-ubyte"), arr)
    out = read_idx(path)
    assert out.shape == (2, 3, 5) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, arr)


@pytest.mark.parametrize("gz", [True, False])
def test_load_idx_dataset_shapes_range_and_labels(tmp_path, gz):
    images, labels = write_split(tmp_path, "train", n=12, gz=gz)
    write_split(tmp_path, "test", n=7, gz=gz, seed=1)
    ds = load_idx_dataset(tmp_path, split="train")
    assert ds.images.shape == (12, 1, 28, 28) and ds.images.dtype == torch.float32
    assert ds.images.min().item() == -1.0 and ds.images.max().item() == 1.0
    # exact pixel mapping: v → v / 127.5 − 1
    expected = torch.from_numpy(images.astype(np.float32) / 127.5 - 1.0).unsqueeze(1)
    torch.testing.assert_close(ds.images, expected)
    assert ds.labels.dtype == torch.int64
    assert ds.labels.tolist() == labels.tolist()
    assert (ds.channels, ds.size, len(ds)) == (1, 28, 12)
    test = load_idx_dataset(tmp_path, split="test")
    assert len(test) == 7 and test.name.endswith("test")
    assert len(load_idx_dataset(tmp_path, split="train", limit=5)) == 5


def test_load_dataset_resizes_and_colours_idx(tmp_path):
    write_split(tmp_path, "train", n=4)
    ds = load_dataset(str(tmp_path), size=32, channels=3)
    assert ds.images.shape == (4, 3, 32, 32)
    assert ds.images.min() >= -1.0 and ds.images.max() <= 1.0
    torch.testing.assert_close(ds.images[:, 0], ds.images[:, 2])  # grey repeated into RGB
    assert ds.labels.shape == (4,)


def test_folder_with_train_split_only_refuses_test_split(tmp_path):
    write_split(tmp_path, "train", n=4)
    with pytest.raises(DatasetError, match="not the test split"):
        load_dataset(str(tmp_path), split="test")


def test_truncated_gzip_names_the_file(tmp_path):
    write_split(tmp_path, "train", n=20)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(DatasetError) as err:
        load_idx_dataset(tmp_path)
    assert str(path) in str(err.value)


def test_garbage_file_names_the_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"this is not an IDX file at all\n" * 10)
    with pytest.raises(DatasetError, match="magic") as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_plain_file_missing_bytes_names_the_file(tmp_path):
    path = write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((3, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(DatasetError, match="header says 2352") as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_truncated_header_is_a_dataset_error(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3, 0, 0]))  # says 3 dimensions, holds half of one
    with pytest.raises(DatasetError) as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_images_and_labels_that_do_not_pair_up(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((5, 28, 28), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros((4,), np.uint8))
    with pytest.raises(DatasetError, match="do not pair up") as err:
        load_idx_dataset(tmp_path)
    assert str(tmp_path) in str(err.value)


# ---------------------------------------------------------------- lookup order


@pytest.fixture
def places(tmp_path, monkeypatch):
    """Four candidate folders (explicit, env, Debian, user cache), each able to hold a different-sized split."""
    p = {name: tmp_path / name for name in ("explicit", "env", "debian")}
    for folder in p.values():
        folder.mkdir()
    p["cache"] = tmp_path / "aigc-home" / "datasets" / "fashion-mnist"  # AIGC_HOME is set by the conftest
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", p["debian"])
    calls = []
    monkeypatch.setattr(data, "_download", lambda dest: calls.append(dest) or False)
    p["download_calls"] = calls
    return p


SIZES = {"explicit": 3, "env": 4, "debian": 5, "cache": 6}


def test_lookup_order(places, monkeypatch):
    for name, n in SIZES.items():
        write_split(places[name], "train", n=n)
    monkeypatch.setenv("AIGC_DATA_DIR", str(places["env"]))
    assert len(load_idx_dataset(places["explicit"])) == 3
    assert find_idx_dir(places["explicit"]) == places["explicit"]
    assert len(load_idx_dataset(None)) == 4  # $AIGC_DATA_DIR beats the Debian package
    monkeypatch.delenv("AIGC_DATA_DIR")
    assert len(load_idx_dataset(None)) == 5  # Debian package beats the user cache
    for f in places["debian"].iterdir():
        f.unlink()
    assert len(load_idx_dataset(None)) == 6
    assert find_idx_dir(None) == places["cache"]
    assert places["download_calls"] == []


def test_explicit_folder_without_files_falls_through_to_next_place(places, monkeypatch):
    write_split(places["env"], "train", n=4)
    monkeypatch.setenv("AIGC_DATA_DIR", str(places["env"]))
    assert find_idx_dir(places["explicit"]) == places["env"]


def test_mistyped_explicit_path_is_an_error_not_a_silent_fallback(places, tmp_path):
    write_split(places["debian"], "train", n=5)
    missing = tmp_path / "no-such-folder"
    with pytest.raises(DatasetError, match="no such file or folder") as err:
        load_dataset(str(missing))
    assert str(missing) in str(err.value)


def test_nothing_found_and_no_download_names_every_option(places, monkeypatch):
    monkeypatch.setenv("AIGC_DATA_DIR", str(places["env"]))
    with pytest.raises(DatasetError) as err:
        load_idx_dataset(places["explicit"])
    msg = str(err.value)
    for label in ("--data", "$AIGC_DATA_DIR", "Debian package dataset-fashion-mnist", "user cache"):
        assert label in msg
    for name in ("explicit", "env", "debian", "cache"):
        assert str(places[name]) in msg
    assert "apt-get install dataset-fashion-mnist" in msg
    assert "AIGC_DATA_DIR=" in msg
    assert places["download_calls"] == []  # AIGC_NO_DOWNLOAD=1 is respected


def test_download_is_the_last_resort(places, monkeypatch):
    monkeypatch.delenv("AIGC_NO_DOWNLOAD")
    with pytest.raises(DatasetError, match="apt-get install dataset-fashion-mnist"):
        find_idx_dir(None)
    assert places["download_calls"] == [places["cache"]]

    def fake_download(dest):
        write_split(dest, "train", n=6)
        return True

    monkeypatch.setattr(data, "_download", fake_download)
    assert len(load_idx_dataset(None)) == 6
