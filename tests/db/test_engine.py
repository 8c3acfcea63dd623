"""Where the database lives and how SQLite is set up (WAL, foreign keys, busy
timeout, durable commits), plus the isolation rule: no aigc, no torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from feedback_db import FeedbackStore, InvalidInput
from feedback_db.engine import normalize_url
from feedback_db.migrate import head_revision

ROOT = Path(__file__).resolve().parents[2]


def test_no_default_location_the_caller_names_the_database(tmp_path, monkeypatch):
    """Where the file lives is the engine's business (aigc.paths); $AIGC_HOME means nothing here."""
    monkeypatch.setenv("AIGC_HOME", str(tmp_path / "home"))
    for missing in (None, ""):
        with pytest.raises(InvalidInput, match="no database URL"):
            FeedbackStore(missing)
    assert not (tmp_path / "home").exists()
    with FeedbackStore(f"sqlite:///{tmp_path / 'a' / 'f.sqlite3'}") as store:
        assert store.schema_revision() == head_revision()
    assert (tmp_path / "a" / "f.sqlite3").exists()


def test_postgres_urls_get_the_psycopg3_driver():
    assert normalize_url("postgresql://u:p@h:5/db").startswith("postgresql+psycopg://u:p@h:5/db")
    assert normalize_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"


def test_sqlite_pragmas(tmp_path):
    with FeedbackStore(f"sqlite:///{tmp_path / 'p.sqlite3'}", busy_timeout_s=2.5) as store:
        with store._engine.connect() as conn:
            pragma = lambda name: conn.execute(text(f"PRAGMA {name}")).scalar()  # noqa: E731
            assert pragma("journal_mode") == "wal"
            assert pragma("foreign_keys") == 1
            assert pragma("busy_timeout") == 2500
            assert pragma("synchronous") == 2  # FULL: a returned rating is on disk
    with FeedbackStore(f"sqlite:///{tmp_path / 'p.sqlite3'}", durable=False) as store:
        with store._engine.connect() as conn:
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL


def test_feedback_db_imports_neither_aigc_nor_torch():
    code = (
        "import sys, feedback_db, feedback_db.cli, feedback_db.store, feedback_db.migrate;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('aigc', 'torch')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    for path in (ROOT / "feedback_db").rglob("*.py"):
        source = path.read_text()
        assert "import aigc" not in source and "from aigc" not in source, path
        assert "import torch" not in source, path
