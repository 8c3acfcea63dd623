"""Checkpoint health: a bad file in a models folder is named once, never hides a good model of the same name,
is not re-read while unchanged, and a registered version whose file went bad is unavailable with the reason."""

from __future__ import annotations

import logging
import pickle

import pytest
from safetensors.torch import save_file

import aigc.service.registry as registry_module
from aigc.models.checkpoint import save_model
from aigc.models.pipeline import PRETRAINED_DIR
from aigc.service.errors import StudioError
from aigc.service.studio import Studio


@pytest.fixture
def user_models(tmp_path, monkeypatch):
    """$AIGC_HOME/models, where a visitor's or an operator's stray files land."""
    folder = tmp_path / "aigc-home" / "models"
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def reads(monkeypatch):
    """Count the studio's checkpoint loads per file name."""
    counts: dict[str, int] = {}
    real = registry_module.load_model

    def counting(path, *args, **kwargs):
        counts[path.name] = counts.get(path.name, 0) + 1
        return real(path, *args, **kwargs)

    monkeypatch.setattr(registry_module, "load_model", counting)
    return counts


def truncated(path, source=PRETRAINED_DIR / "fashion-gan.safetensors") -> None:
    path.write_bytes(source.read_bytes()[: source.stat().st_size // 2])


@pytest.mark.parametrize(
    "write,problem,advice",
    [
        (truncated, "truncated", "damaged"),
        (lambda p: p.write_bytes(pickle.dumps({"weights": [1, 2, 3]})), "pickle", "safetensors"),
        (lambda p: save_file({"w": __import__("torch").zeros(3)}, str(p)), "not an AIGC Studio checkpoint", "move it"),
    ],
)
def test_a_bad_file_never_hides_the_shipped_model_and_is_named_once(
    tmp_path, user_models, reads, caplog, write, problem, advice
):
    bad = user_models / "fashion-gan.safetensors"
    write(bad)
    caplog.set_level(logging.WARNING, logger="aigc.models")
    with Studio.open(f"sqlite:///{tmp_path / 'db.sqlite'}") as studio:
        assert studio.model("fashion-gan").path == PRETRAINED_DIR / "fashion-gan.safetensors"
        assert studio.sample("fashion-gan", 2, 0).images.shape[0] == 2
        for _ in range(3):  # page loads
            studio.models()
            problems = studio.checkpoint_problems()
        assert [(p.name, p.path) for p in problems] == [("fashion-gan", bad)]
        assert problem in problems[0].problem and advice in problems[0].advice
        assert problems[0].replaced_by == PRETRAINED_DIR / "fashion-gan.safetensors"
        assert reads["fashion-gan.safetensors"] == 2  # the bad file once, the shipped one once: no re-reads
        assert reads.get("fashion-classifier.safetensors", 0) <= 1  # readable but not servable: read once
        named = [r.getMessage() for r in caplog.records if str(bad) in r.getMessage()]
        assert len(named) == 1 and problem in named[0]


def test_a_changed_file_gets_a_fresh_look(tmp_path, user_models, reads, tiny_model, record):
    bad = user_models / "toy.safetensors"
    bad.write_bytes(b"\x80\x04 not a checkpoint")
    with Studio.open(f"sqlite:///{tmp_path / 'db.sqlite'}") as studio:
        with pytest.raises(StudioError, match="toy is unavailable: this is a Python pickle"):
            studio.model("toy")
        save_model(bad, tiny_model("gan"), record("gan", name="toy"))  # fixed: new size and mtime
        assert studio.model("toy").kind == "gan" and studio.checkpoint_problems() == []


def test_a_registered_version_whose_file_went_bad_is_unavailable_with_the_reason(
    tmp_path, user_models, tiny_model, record
):
    folder = tmp_path / "mine"
    path = save_model(folder / "toy-gan.safetensors", tiny_model("gan"), record("gan", name="toy-gan"))
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with Studio.open(db, models_dir=folder) as studio:
        studio.sample("toy-gan", 1, 0)
    truncated(path, source=path)
    with Studio.open(db, models_dir=folder) as studio:
        assert "toy-gan" not in {m.name for m in studio.models()}
        with pytest.raises(StudioError, match="toy-gan is unavailable: .*truncated.* copy it again or delete it"):
            studio.sample("toy-gan", 1, 0)
        (bad,) = studio.checkpoint_problems()
        assert bad.name == "toy-gan" and bad.path == path and bad.replaced_by is None
        assert studio.model("fashion-gan").kind == "gan"  # the rest of the studio serves as before
    path.unlink()
    with Studio.open(db) as studio:  # the registered file is gone altogether
        (bad,) = studio.checkpoint_problems()
        assert bad.name == "toy-gan" and "no such checkpoint file" in bad.problem


def test_another_good_checkpoint_under_a_registered_name_never_replaces_it(tmp_path, user_models, tiny_model, record):
    """It used to stop the studio from opening at all (Conflict from register_version on every start)."""
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with Studio.open(db) as studio:
        before = studio.sample("fashion-gan", 2, 0).images
    other = save_model(user_models / "fashion-gan.safetensors", tiny_model("gan"), record("gan", name="fashion-gan"))
    with Studio.open(db) as studio:
        assert studio.model("fashion-gan").path == PRETRAINED_DIR / "fashion-gan.safetensors"
        assert (studio.sample("fashion-gan", 2, 0).images == before).all()
        (bad,) = studio.checkpoint_problems()
        assert bad.path == other and "already exists with another checkpoint" in bad.problem
        assert "rename the file" in bad.advice and bad.replaced_by == PRETRAINED_DIR / "fashion-gan.safetensors"
