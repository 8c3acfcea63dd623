"""The tooling's own rules: the mypy baseline only goes down, and shared test models are built once."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.tiny import built_once

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def typecheck(tmp_path, monkeypatch):
    """.ci/typecheck.py with its baseline in a temporary file and mypy's count chosen by the test."""
    spec = importlib.util.spec_from_file_location("typecheck", ROOT / ".ci" / "typecheck.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "BASELINE", tmp_path / "mypy-baseline")
    module.BASELINE.write_text("10\n")
    module.found = 10
    monkeypatch.setattr(module, "count_errors", lambda: (module.found, "x.py:1: error: bad  [misc]\n"))
    return module


def test_the_baseline_holds_fails_when_the_count_rises_and_asks_to_be_lowered_when_it_falls(typecheck, capsys):
    assert typecheck.main([]) == 0
    typecheck.found = 11
    assert typecheck.main([]) == 1 and "fix the 1 new one(s)" in capsys.readouterr().out
    typecheck.found = 7
    assert typecheck.main([]) == 1 and "--update" in capsys.readouterr().out
    assert typecheck.BASELINE.read_text().strip() == "10"  # a check never rewrites the baseline


def test_update_lowers_the_baseline_but_never_raises_it(typecheck):
    typecheck.found = 12
    assert typecheck.main(["--update"]) == 1 and typecheck.BASELINE.read_text().strip() == "10"
    typecheck.found = 8
    assert typecheck.main(["--update"]) == 0 and typecheck.BASELINE.read_text().strip() == "8"
    assert typecheck.main([]) == 0


def test_the_error_pattern_counts_mypy_errors_not_notes():
    spec = importlib.util.spec_from_file_location("typecheck_re", ROOT / ".ci" / "typecheck.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    output = (
        "aigc/a.py:3: error: Incompatible types  [assignment]\n"
        "aigc/a.py:3: note: see https://mypy.readthedocs.io\n"
        "aigc_ui/b.py:10: error: Missing return  [return]\n"
        "Found 2 errors in 2 files (checked 3 source files)\n"
    )
    assert len(module.ERROR.findall(output)) == 2


def test_built_once_builds_once_and_a_failed_build_is_retried_not_reused(tmp_path_factory):
    calls: list[Path] = []

    def build(folder: Path) -> None:
        calls.append(folder)
        (folder / "model.bin").write_text("weights")

    first = built_once(tmp_path_factory, "tooling-once", build)
    again = built_once(tmp_path_factory, "tooling-once", build)
    assert first == again and len(calls) == 1 and (first / "model.bin").read_text() == "weights"

    def broken(folder: Path) -> None:
        (folder / "half").write_text("")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        built_once(tmp_path_factory, "tooling-retry", broken)
    done = built_once(tmp_path_factory, "tooling-retry", build)
    assert sorted(p.name for p in done.iterdir()) == ["model.bin"]  # nothing of the failed build
