"""Shipped weights replaced under the same name (issue 14): a database that holds versions of the old file keeps
working. The old version is retired (same id, renamed `name@<sha[:8]>`), the new file is served under the name,
old samples are labelled as from a retired version and never decoded with the new weights, and old ratings never
feed the new version."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from aigc.feedback.ratings import usable_ratings
from aigc.models.checkpoint import load_module, save_model
from aigc.service.errors import StudioError
from aigc.service.registry import ModelRegistry
from aigc.service.studio import Studio


def retrain(path: Path, seed: int, **record_changes) -> Path:
    """New weights in `path` (the old file deleted first, as a release replaces it): the old ones nudged."""
    module, record = load_module(path)
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.2 * torch.randn_like(p))
    path.unlink()
    return save_model(path, module, replace(record, **record_changes))


def versions_named(studio: Studio, prefix: str) -> list[str]:
    return sorted(v.name for v in studio.store.list_versions() if v.name.startswith(prefix))


@pytest.fixture
def shipped(models_dir, monkeypatch) -> Path:
    """The tiny models' folder, treated as the studio's shipped (pretrained) folder."""
    monkeypatch.setattr(ModelRegistry, "shipped_dirs", (Path(models_dir),))
    return Path(models_dir)


def test_replaced_shipped_weights_retire_the_old_version(home, shipped, tmp_path):
    db = f"sqlite:///{tmp_path}/feedback.sqlite"
    with Studio.open(db, models_dir=shipped) as studio:
        old = studio.version("syn-gan")
        batch = studio.sample("syn-gan", 4, 7, rater="ann")
        for sample_id, score in zip(batch.sample_ids, [1.0, -1.0, 1.0, -1.0]):
            studio.rate(sample_id, score, "ann")
    retrain(shipped / "syn-gan.safetensors", 2)

    with Studio.open(db, models_dir=shipped) as studio:
        new = studio.version("syn-gan")
        assert new.id != old.id and new.checkpoint_sha256 != old.checkpoint_sha256 and not new.retired
        assert studio.model("syn-gan").sha256 == new.checkpoint_sha256
        assert not [p for p in studio.checkpoint_problems() if p.name.startswith("syn-")]  # served, not refused
        retired = studio.store.get_version(old.id)
        assert retired.retired and retired.name == f"syn-gan@{old.checkpoint_sha256[:8]}"
        assert "syn-gan" in {m.name for m in studio.models()} and retired.name not in {m.name for m in studio.models()}

        # the old samples: labelled retired, a grey card, never the new weights' picture
        label = f"{retired.name} (retired: a newer shipped file replaced it)"
        found = studio.sample_images(batch.sample_ids[:2])
        assert [name for name, _ in found] == [label, label]
        redrawn = studio.decode("syn-gan", batch.latents[0])
        assert not np.array_equal(redrawn, batch.images[0])  # the new weights draw another picture...
        assert not np.array_equal(found[0][1], redrawn) and (found[0][1] == 128).all()  # ...which is not shown
        assert studio.sample_info(batch.sample_ids[0])[0] == retired.name
        assert studio.retired_label(old.id) == label and studio.retired_label(new.id) is None
        with pytest.raises(StudioError, match="retired: a newer shipped file replaced it"):
            studio.decode(retired.name, batch.latents[0])
        assert {a.version_id for a in studio.history("ann")} == {old.id}  # the history still lists them

        # the old ratings stay, under the old version, and never count for the new one
        assert len(studio.store.ratings_for_lineage(old.id)) == 4
        assert studio.store.ratings_for_lineage(new.id) == []
        assert usable_ratings(studio.store, new.id) == [] and studio.ratings_ready("syn-gan").ratings == 0
        studio.rate(studio.sample("syn-gan", 1, 7, rater="ann").sample_ids[0], 1.0, "ann")
        assert studio.ratings_ready("syn-gan").ratings == 1

    with Studio.open(db, models_dir=shipped) as studio:  # the next start changes nothing
        assert versions_named(studio, "syn-gan") == sorted(["syn-gan", retired.name])
        assert studio.version("syn-gan").id == new.id


def test_a_child_keeps_its_retired_parent_and_learns_nothing_from_it(home, shipped, tmp_path):
    db = f"sqlite:///{tmp_path}/feedback.sqlite"
    child_path = shipped / "syn-gan-ft1.safetensors"
    with Studio.open(db, models_dir=shipped) as studio:
        old = studio.version("syn-gan")
        for sample_id in studio.sample("syn-gan", 3, 1, rater="ann").sample_ids:
            studio.rate(sample_id, 1.0, "ann")
    module, record = load_module(shipped / "syn-gan.safetensors")  # a fine-tune of the old weights
    save_model(child_path, module, replace(record, name="syn-gan-ft1", parent="syn-gan"))
    retrain(child_path, 3)
    with Studio.open(db, models_dir=shipped) as studio:
        child = studio.version("syn-gan-ft1")
        assert child.parent_id == old.id
        child_sample = studio.sample("syn-gan-ft1", 1, 1, rater="ann").sample_ids[0]
        studio.rate(child_sample, -1.0, "ann")
        assert studio.ratings_ready("syn-gan-ft1").ratings == 4  # its own and its parent's
    retrain(shipped / "syn-gan.safetensors", 4)

    with Studio.open(db, models_dir=shipped) as studio:
        new = studio.version("syn-gan")
        assert new.id != old.id
        assert studio.version("syn-gan-ft1") == child  # same row, same parent: the old weights it came from
        assert studio.store.get_version(old.id).retired
        assert studio.parent_of("syn-gan-ft1") is None  # no served parent to compare with
        with pytest.raises(StudioError, match="no parent"):
            studio.ab_pair("syn-gan-ft1", 0, "ann")
        # the retired parent's pictures cannot be made again: only the child's own rating is usable
        assert [r.sample_id for r in usable_ratings(studio.store, child.id)] == [child_sample]
        assert len(studio.store.ratings_for_lineage(child.id)) == 4  # the rows themselves stay


def test_a_users_replaced_checkpoint_is_still_refused(home, models_dir, tmp_path):
    """Not shipped (a fine-tune, in a folder that is not the shipped one), its file replaced in place: refused as
    before, the registered version is not retired (two different files under one name: rename the new one)."""
    db = f"sqlite:///{tmp_path}/feedback.sqlite"
    child_path = Path(models_dir) / "syn-gan-ft1.safetensors"
    module, record = load_module(Path(models_dir) / "syn-gan.safetensors")
    save_model(child_path, module, replace(record, name="syn-gan-ft1", parent="syn-gan"))
    with Studio.open(db, models_dir=models_dir) as studio:
        child = studio.version("syn-gan-ft1")
    retrain(child_path, 5)
    with Studio.open(db, models_dir=models_dir) as studio:
        with pytest.raises(StudioError, match="unavailable"):
            studio.model("syn-gan-ft1")
        (bad,) = [p for p in studio.checkpoint_problems() if p.name == "syn-gan-ft1"]
        assert "already exists with another checkpoint" in bad.problem and "rename the file" in bad.advice
        assert studio.store.get_version(child.id) == child and not child.retired


def test_a_finetune_never_learns_from_another_checkpoints_ratings(home, models_dir, tmp_path):
    """`aigc finetune` on a database no studio has opened since the file was replaced: refused before any work
    (it used to decode the old version's rated latents with the new weights)."""
    from aigc.feedback.finetune import finetune
    from feedback_db import FeedbackStore

    with FeedbackStore(f"sqlite:///{tmp_path}/feedback.sqlite") as store:
        store.register_version("syn-gan", "gan", str(Path(models_dir) / "syn-gan.safetensors"), "b" * 64)
        with pytest.raises(ValueError, match="not the checkpoint the database knows"):
            finetune("syn-gan", store, models_dir=models_dir)
        assert store.list_runs() == []
