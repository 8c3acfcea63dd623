"""`aigc.paths`: one resolution of $AIGC_HOME, so the database and the models always land side by side."""

from __future__ import annotations

from pathlib import Path

import pytest

from aigc import paths
from aigc.cli import main
from aigc.models.pipeline import load_model, models_dirs
from aigc.training.loop import save_final
from feedback_db import FeedbackStore
from feedback_db.migrate import head_revision


@pytest.fixture
def user_home(tmp_path, monkeypatch) -> Path:
    """A fake ~ (so `~/x` is expanded somewhere private) and a working directory beside it."""
    fake = tmp_path / "user"
    fake.mkdir()
    monkeypatch.setenv("HOME", str(fake))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return fake


@pytest.mark.parametrize("raw", ["~/studio", "rel/studio", "./rel/../rel/studio"])
def test_home_is_expanded_and_absolute(user_home, tmp_path, monkeypatch, raw):
    monkeypatch.setenv("AIGC_HOME", raw)
    want = user_home / "studio" if raw.startswith("~") else tmp_path / "work" / "rel" / "studio"
    assert paths.home() == want and paths.home().is_absolute()
    assert paths.models_dir() == want / "models"
    assert paths.runs_dir() == want / "runs"
    assert paths.datasets_dir() == want / "datasets"
    assert paths.database_file() == want / "feedback.sqlite3"
    assert paths.database_url() == f"sqlite:///{want / 'feedback.sqlite3'}"
    assert paths.database_url("postgresql://h/db") == "postgresql://h/db"  # an explicit URL wins
    assert models_dirs()[0] == want / "models" and models_dirs()[-1] == paths.PRETRAINED_DIR
    assert paths.child_env()["AIGC_HOME"] == str(want)  # a child process sees the same folder
    assert not (tmp_path / "work" / "~").exists()


def test_unset_home_is_dot_aigc_and_cache_follows_its_variable(user_home, monkeypatch):
    monkeypatch.delenv("AIGC_HOME", raising=False)
    monkeypatch.delenv("AIGC_CACHE_DIR", raising=False)
    assert paths.home() == user_home / ".aigc"
    assert paths.feature_cache_dir() == user_home / ".cache" / "aigc"
    monkeypatch.setenv("AIGC_CACHE_DIR", "~/feats")
    assert paths.feature_cache_dir() == user_home / "feats"


def test_pretrained_folder_ships_the_models():
    assert (paths.PRETRAINED_DIR / "fashion-gan.safetensors").exists()


@pytest.mark.parametrize("raw", ["~/studio", "rel/studio"])
def test_database_and_models_land_in_the_same_home(user_home, tmp_path, monkeypatch, raw, tiny_model, record):
    """The bug this module fixes: with `~` the database went to ~ and the models to a literal ./~."""
    monkeypatch.setenv("AIGC_HOME", raw)
    home = paths.home()
    save_final(paths.models_dir() / "mine.safetensors", tiny_model("gan"), record("gan", name="mine"))
    assert load_model("mine").path == home / "models" / "mine.safetensors"
    assert main(["db", "upgrade"]) == 0  # `aigc db` with its default database
    assert (home / "feedback.sqlite3").exists()
    with FeedbackStore(paths.database_url()) as store:
        assert store.schema_revision() == head_revision()
    assert main(["ratings", "stats"]) == 0
    names = {p.name for p in home.iterdir()} - {"feedback.sqlite3-wal", "feedback.sqlite3-shm"}
    assert names == {"feedback.sqlite3", "models"}
    assert not (tmp_path / "work" / "~").exists()


@pytest.mark.parametrize("raw", ["~/studio", "rel/studio"])
def test_a_default_studio_keeps_its_database_and_models_in_the_home(user_home, monkeypatch, raw):
    from aigc.service.studio import Studio

    monkeypatch.setenv("AIGC_HOME", raw)
    monkeypatch.delenv("AIGC_DB_URL", raising=False)
    home = paths.home()
    with Studio.open(threads=None) as studio:  # no --db, no --models: everything from the home
        assert studio.store.url == f"sqlite:///{home / 'feedback.sqlite3'}"
        assert home / "models" in studio.private_paths() and home in studio.private_paths()
        assert studio.jobs.models_dir is None  # the child resolves the same home (paths.child_env)
    assert (home / "feedback.sqlite3").exists()
