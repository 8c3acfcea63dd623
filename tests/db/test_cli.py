"""`aigc ratings export|stats` and `aigc db upgrade|current|check`, through
`feedback_db.cli` (mounted by aigc/cli.py, or run as `python -m feedback_db.cli`)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from feedback_db import FeedbackStore
from feedback_db.cli import add_commands, main
from feedback_db.export import read
from feedback_db.migrate import head_revision
from tests.db.helpers import latents

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def filled(store, version):
    ids = store.record_samples(version.id, latents(3, seed=4), seed=11)
    store.rate(ids[0], 1, "a")
    store.rate(ids[1], -1, "a")
    return store.url, ids


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_ratings_export(filled, tmp_path, capsys, fmt):
    url, ids = filled
    out = tmp_path / f"out.{fmt}"
    assert main(["ratings", "export", "--format", fmt, "--out", str(out), "--db", url]) == 0
    assert "wrote 2 ratings" in capsys.readouterr().out
    rows = list(read(out))
    assert [(r["sample_id"], r["score"]) for r in rows] == [(ids[0], 1.0), (ids[1], -1.0)]
    np.testing.assert_array_equal(np.float32(rows[1]["latent"]), latents(3, seed=4)[1])


def test_export_format_follows_the_suffix(filled, tmp_path):
    url, _ = filled
    assert main(["ratings", "export", "--out", str(tmp_path / "r.jsonl"), "--db", url]) == 0
    json.loads((tmp_path / "r.jsonl").read_text().splitlines()[0])


def test_ratings_stats(filled, capsys):
    url, _ = filled
    assert main(["ratings", "stats", "--db", url]) == 0
    table = capsys.readouterr().out
    assert "gan-base" in table and "0.500" in table
    assert main(["ratings", "stats", "--json", "--db", url]) == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (row["n_samples"], row["n_ratings"], row["n_likes"], row["like_rate"]) == (3, 2, 1, 0.5)


def test_db_upgrade_current_check_on_a_new_file(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    assert main(["db", "current", "--db", url]) == 0
    assert capsys.readouterr().out.startswith("empty: no database file yet")
    assert not (tmp_path / "new.sqlite3").exists()  # said, not created
    assert main(["db", "upgrade", "--db", url, "--revision", "0001"]) == 0
    capsys.readouterr()
    assert main(["db", "check", "--db", url]) == 1  # 0001 lacks comparisons: each named in words
    out = capsys.readouterr().out.splitlines()
    assert "table comparisons: in the code, missing from the database" in out and not any("Table(" in x for x in out)
    assert main(["db", "upgrade", "--db", url]) == 0
    assert f"revision {head_revision()}" in capsys.readouterr().out
    assert main(["db", "check", "--db", url]) == 0
    assert main(["db", "current", "--db", url]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith(head_revision())


def test_errors_are_messages_not_tracebacks(tmp_path, capsys):
    assert main(["db", "upgrade", "--db", "sqlite://"]) == 2
    assert capsys.readouterr().err.startswith("aigc db upgrade: error: in-memory")
    assert main(["ratings", "stats", "--db", "not a url"]) == 2
    assert capsys.readouterr().err.startswith("aigc ratings stats: error: ")


@pytest.mark.parametrize("command", [["ratings", "export", "--out", "x.csv"], ["ratings", "stats"], ["db", "check"]])
def test_a_mistyped_sqlite_path_is_refused_not_created_empty(tmp_path, capsys, command):
    typo = tmp_path / "feedbak.sqlite3"
    assert main([*command, "--db", f"sqlite:///{typo}"]) == 2
    assert f"no database at {typo}" in capsys.readouterr().err  # before: "wrote 0 ratings", and a new empty file
    assert not typo.exists()
    with pytest.raises(SystemExit) as exc:
        main(["ratings", "export", "--format", "xml", "--out", "x"])
    assert exc.value.code == 2


def test_add_commands_mounts_on_another_parser(tmp_path):
    parser = argparse.ArgumentParser(prog="aigc")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("train").set_defaults(func=lambda a: 0)
    default = f"sqlite:///{tmp_path / 'default.sqlite3'}"
    add_commands(sub, default_db=default)
    args = parser.parse_args(["db", "upgrade"])
    assert args.func.__name__ == "cmd_upgrade" and args.db == default
    assert args.func(args) == 0 and (tmp_path / "default.sqlite3").exists()
    args = parser.parse_args(["ratings", "stats"])
    assert args.func.__name__ == "cmd_stats" and args.func(args) == 0


def test_standalone_needs_a_database_url(capsys):
    """The package knows no home folder: without a mounting engine's default, --db is required."""
    with pytest.raises(SystemExit) as exc:
        main(["db", "upgrade"])
    assert exc.value.code == 2
    assert "--db" in capsys.readouterr().err


def test_python_dash_m_runs_standalone(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    result = subprocess.run(
        [sys.executable, "-m", "feedback_db.cli", "db", "upgrade", "--db", url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    with FeedbackStore(url) as store:
        assert store.schema_revision() == head_revision()
