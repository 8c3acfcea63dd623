"""The fine-tune child: its database URL travels in the environment, and a noisy stderr cannot hang it."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from aigc import paths
from aigc.service.jobs import FinetuneJobs
from feedback_db import FeedbackStore, InvalidInput, masked_url

SECRET_URL = "postgresql://rater:s3cret-pw@db.example:5432/feedback"

# A stand-in for `python -m aigc.cli`: records how it was called, floods stderr, then reports like a real run.
FAKE_CHILD = textwrap.dedent(
    """
    import json, os, sys
    out, lines, succeed, last = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4]
    json.dump({"argv": sys.argv[5:], "db": os.environ.get("AIGC_DB_URL")}, open(out, "w"))
    for i in range(lines):
        sys.stderr.write(f"warning {i}: " + "x" * 1000 + "\\n")
    sys.stderr.write(last + "\\n")
    sys.stderr.flush()
    print(json.dumps({"stage": "training", "progress": 0.5}), flush=True)
    if succeed:
        print(json.dumps({"child": "m-ft1", "fid_after": 1.0}), flush=True)
    sys.exit(0 if succeed else 1)
    """
)


def fake_jobs(tmp_path: Path, lines: int, succeed: bool, last: str = "done") -> tuple[FinetuneJobs, Path]:
    script = tmp_path / "fake_child.py"
    script.write_text(FAKE_CHILD)
    record = tmp_path / "called.json"
    jobs = FinetuneJobs(SECRET_URL, str(tmp_path / "models"))
    jobs.launcher = [sys.executable, str(script), str(record), str(lines), "1" if succeed else "0", last]
    return jobs, record


def test_noisy_child_finishes_and_url_stays_off_the_command_line(tmp_path):
    jobs, record = fake_jobs(tmp_path, lines=5000, succeed=True)  # ~5 MB on stderr, far past a pipe's buffer
    jobs.start("m", steps=10, rater="alice")
    status = jobs.wait("m", timeout=120)
    assert status.state == "succeeded" and status.child == "m-ft1", status
    called = json.loads(record.read_text())
    assert called["db"] == SECRET_URL  # handed over in the environment
    assert called["argv"][:2] == ["finetune", "m"] and "--rater" in called["argv"]
    assert not any("s3cret" in arg or "postgresql" in arg for arg in called["argv"])


def test_failed_noisy_child_reports_its_last_stderr_line(tmp_path):
    jobs, _ = fake_jobs(tmp_path, lines=3000, succeed=False, last="aigc finetune: error: out of ratings")
    jobs.start("m")
    status = jobs.wait("m", timeout=120)
    assert status.state == "failed"
    assert status.message == "out of ratings"  # the page says "Fine-tuning failed: out of ratings", not the prefix


def test_database_url_comes_from_the_environment_when_not_given(monkeypatch, tmp_path):
    monkeypatch.setenv("AIGC_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AIGC_DB_URL", raising=False)
    assert paths.database_url() == f"sqlite:///{tmp_path / 'home' / 'feedback.sqlite3'}"
    monkeypatch.setenv("AIGC_DB_URL", SECRET_URL)
    assert paths.database_url() == SECRET_URL
    assert paths.database_url("sqlite:///x.sqlite3") == "sqlite:///x.sqlite3"  # --db still wins


def test_passwords_are_masked_wherever_a_url_is_printed(capsys):
    assert masked_url(SECRET_URL) == "postgresql://rater:***@db.example:5432/feedback"
    assert masked_url("sqlite:////tmp/f.sqlite3") == "sqlite:////tmp/f.sqlite3"
    assert "s3cret" not in masked_url("postgresql://u:s3cret@h:notaport/db")  # unparsable: masked by pattern
    with pytest.raises(InvalidInput) as exc:
        FeedbackStore("mysql://rater:s3cret-pw@h/db")
    assert "s3cret" not in str(exc.value) and "***" in str(exc.value)
    from aigc.cli.main import build_parser

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIGC_DB_URL", SECRET_URL)
        with pytest.raises(SystemExit):
            build_parser().parse_args(["db", "upgrade", "--help"])
    help_text = capsys.readouterr().out
    assert "rater:***@db.example" in help_text and "s3cret" not in help_text
