"""`Studio(...)` only wires parts together; `Studio.open(...)` is where the process and the disk change."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from aigc.service.studio import Studio
from feedback_db import FeedbackStore


@pytest.fixture
def pending(models_dir) -> Path:
    """A hidden file a killed fine-tune left behind, that no version claims: opening must discard it."""
    path = Path(models_dir) / ".pending-syn-vae-ft9.safetensors"
    path.write_bytes(b"half-written")
    return path


def test_constructor_has_no_side_effects(home, models_dir, tmp_path, pending, monkeypatch):
    stale_checks = []
    monkeypatch.setattr(FeedbackStore, "fail_stale_runs", lambda self, *a, **k: stale_checks.append(1) or [])
    torch.set_num_threads(1)
    store = FeedbackStore(f"sqlite:///{tmp_path}/db.sqlite3")
    with Studio(store, models_dir=models_dir) as studio:
        assert torch.get_num_threads() == 1
        assert pending.exists()
        assert store.list_versions() == [] and stale_checks == []
        assert not studio.jobs.status("syn-vae").active
        # still usable: models are found on first use
        assert studio.model("syn-gan").kind == "gan"
        assert {"syn-gan", "syn-vae"} <= {v.name for v in store.list_versions()}


def test_open_sets_threads_cleans_up_and_registers(home, models_dir, tmp_path, pending, monkeypatch):
    stale_checks = []
    real = FeedbackStore.fail_stale_runs
    monkeypatch.setattr(FeedbackStore, "fail_stale_runs", lambda self, *a, **k: stale_checks.append(1) or real(self))
    torch.set_num_threads(1)
    with Studio.open(f"sqlite:///{tmp_path}/db.sqlite3", models_dir=models_dir, threads=2) as studio:
        assert torch.get_num_threads() == 2
        assert not pending.exists()
        assert stale_checks == [1]
        assert {"syn-gan", "syn-vae"} <= {v.name for v in studio.store.list_versions()}
    torch.set_num_threads(1)


def test_open_closes_the_store_when_it_fails(home, tmp_path, monkeypatch):
    closed = []
    monkeypatch.setattr(FeedbackStore, "close", lambda self: closed.append(1))

    def broken(self):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Studio, "refresh", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        Studio.open(f"sqlite:///{tmp_path}/db.sqlite3")
    assert closed == [1]


def test_a_child_whose_name_sorts_first_is_registered_with_its_parent(home, models_dir, tmp_path):
    """`syn-gan-child.safetensors` sorts before `syn-gan.safetensors`; on a fresh database it still gets its parent."""
    from aigc.models.checkpoint import CheckpointRecord, load_module
    from aigc.training.loop import save_final

    folder = Path(models_dir)
    module, parent_record = load_module(folder / "syn-gan.safetensors")
    child = CheckpointRecord(
        kind="gan", config={}, name="syn-gan-child", dataset=parent_record.dataset, parent="syn-gan"
    )
    save_final(folder / "syn-gan-child.safetensors", module, child)
    assert sorted(p.name for p in folder.glob("syn-gan*"))[0] == "syn-gan-child.safetensors"  # the order at issue
    with Studio.open(db_url=f"sqlite:///{tmp_path}/fresh.sqlite3", models_dir=models_dir) as studio:
        versions = {v.name: v for v in studio.store.list_versions()}
        assert versions["syn-gan-child"].parent_id == versions["syn-gan"].id
        assert versions["syn-gan"].id < versions["syn-gan-child"].id  # the parent was registered first
        assert {m.name: m.parent for m in studio.models()}["syn-gan-child"] == "syn-gan"
