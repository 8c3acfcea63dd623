"""No hidden state: no module globals, no process-wide settings changed by library calls, a cache that says so."""

from __future__ import annotations

import ast
import io
import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image

from aigc.data import datasets
from aigc.data.datasets import DatasetError, load_image_file, load_upload, synthetic_dataset
from aigc.models import VAE, VAEConfig
from aigc.models.checkpoint import CheckpointRecord
from aigc.training import distributed
from aigc.training.loop import TrainConfig, train

AIGC = Path(__file__).resolve().parents[2] / "aigc"
ENTRY_POINTS = {"aigc/cli/commands.py", "aigc/cli/filter.py", "aigc/cli/finetune.py", "aigc/service/studio.py"}
SCOPED = {"aigc/models/pipeline.py"}  # reproducible_threads: one thread for a decode, then the caller's count back


def _modules():
    for path in sorted(AIGC.rglob("*.py")):
        yield path.relative_to(AIGC.parent).as_posix(), ast.parse(path.read_text())


def test_no_module_rebinds_a_global():
    offenders = [name for name, tree in _modules() for node in ast.walk(tree) if isinstance(node, ast.Global)]
    assert offenders == []


def test_thread_counts_are_set_only_by_entry_points():
    setters = {
        name
        for name, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "set_num_threads"
    }
    assert setters <= ENTRY_POINTS | SCOPED, setters - ENTRY_POINTS - SCOPED
    assert "aigc/service/studio.py" in setters  # Studio.open: the server's budget


def test_training_leaves_the_thread_count_alone(tmp_path):
    torch.set_num_threads(1)
    cfg = TrainConfig(out_dir=str(tmp_path), steps=2, batch_size=8, progress=False, threads=3, sample_every=0)
    result = train(
        VAE(VAEConfig(width=8, hidden=16, latent_dim=4)), synthetic_dataset(n=16), cfg, CheckpointRecord("vae", {})
    )
    assert result.steps == 2 and torch.get_num_threads() == 1


def test_outside_torchrun_the_run_is_single_and_carries_no_state():
    assert distributed.init_from_env() is distributed.SINGLE
    assert not distributed.SINGLE.parallel and not distributed.SINGLE.leave_after_run
    with pytest.raises(Exception):  # noqa: B017 - frozen: the constant cannot be changed in place
        distributed.SINGLE.rank = 1  # type: ignore[misc]


def test_the_share_a_run_handshake_has_its_own_module():
    from aigc.training import handover, loop

    assert not hasattr(loop, "share_run") and not hasattr(loop, "follow_run")
    h = handover.Handover(distributed.SINGLE)
    h.share(None, None, None, None)  # type: ignore[arg-type]  # alone: nothing to send, nothing touched
    h.release(1, "nothing")
    assert not h.sent


def test_pixel_limit_is_ours_not_pils(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "MAX_IMAGE_PIXELS", 100 * 100)
    before = Image.MAX_IMAGE_PIXELS
    Image.new("RGB", (64, 64)).save(tmp_path / "ok.png")
    Image.new("RGB", (120, 120)).save(tmp_path / "big.png")
    assert load_image_file(tmp_path / "ok.png", 28, 1).shape == (28, 28, 1)
    with pytest.raises(datasets.TooManyPixels):
        load_image_file(tmp_path / "big.png", 28, 1)
    buffer = io.BytesIO()
    Image.new("RGB", (120, 120)).save(buffer, format="PNG")
    with pytest.raises(DatasetError, match="too many pixels"):
        load_upload(buffer.getvalue(), 28, 1)
    assert before == Image.MAX_IMAGE_PIXELS  # the process-wide limit is untouched


def test_models_are_cached_until_something_changes(studio, models_dir, monkeypatch):
    reads = []
    real = studio.store.list_versions
    monkeypatch.setattr(studio.store, "list_versions", lambda *a, **k: reads.append(1) or real(*a, **k))
    studio.models_max_age_s = 3600
    first = studio.models()
    n = len(reads)
    assert studio.models() == first and studio.models() == first
    assert len(reads) == n  # neither the disk nor the database was asked again
    shutil.copy(Path(models_dir) / "syn-vae.safetensors", Path(models_dir) / "syn-vae2.safetensors")
    assert "syn-vae2" in {m.name for m in studio.models()}  # a changed folder is seen at once
    n = len(reads)
    studio.models()
    assert len(reads) == n
    studio.models_max_age_s = 0  # and, at the latest, after the cache's age limit
    studio.models()
    assert len(reads) > n
