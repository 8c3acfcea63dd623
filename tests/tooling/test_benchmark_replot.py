"""The feedback benchmark's figure is redrawn from saved JSON lines, filtered by taste, 🎯 runs as stars."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(line: dict, **changes) -> dict:
    return {**line, **changes}


@pytest.mark.integration
def test_replot_draws_the_chosen_tastes_refuses_when_none_match_and_needs_a_target(tmp_path):
    base = {"model": "fashion-gan", "rounds": 1, "to_rate": False, "liked_rate_before": 0.3, "history": []}
    lines = [
        _run(base, taste="bright", ratings_used=20, liked_rate_after=0.7),
        _run(base, taste="bright", ratings_used=100, liked_rate_after=0.95),
        _run(base, taste="bright", ratings_used=50, liked_rate_after=0.9, to_rate=True),
        _run(base, taste="wide", ratings_used=100, liked_rate_after=0.9),
        {"summary": True, "runs": 4},
    ]
    saved = tmp_path / "runs.jsonl"
    saved.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    script = [sys.executable, str(ROOT / "benchmarks" / "feedback_loop.py"), "--replot", str(saved)]

    refused = subprocess.run(script, capture_output=True, text=True, cwd=ROOT)
    assert refused.returncode != 0 and "--replot needs --plot" in refused.stderr

    figure = tmp_path / "curve.png"
    nothing = subprocess.run(
        [*script, "--prefs", "", "--tastes", "none", "--plot", str(figure)], capture_output=True, text=True, cwd=ROOT
    )
    assert nothing.returncode != 0 and "no finished runs" in nothing.stderr and not figure.exists()

    done = subprocess.run(
        [*script, "--prefs", "", "--tastes", "bright", "--plot", str(figure)], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.integration
def test_replot_leaves_out_the_lines_of_levers_not_kept(tmp_path):
    """A line with a `probe` field measured a lever that was not kept: the figure shows the defaults' runs only,
    so a taste measured only by probes has nothing to draw."""
    base = {"model": "fashion-vae", "rounds": 1, "to_rate": False, "liked_rate_before": 0.3, "history": []}
    probe = {**base, "taste": "bright", "ratings_used": 100, "liked_rate_after": 0.9, "probe": "a lever not kept"}
    saved = tmp_path / "runs.jsonl"
    saved.write_text(json.dumps(probe) + "\n")
    figure = tmp_path / "curve.png"
    script = [sys.executable, str(ROOT / "benchmarks" / "feedback_loop.py"), "--replot", str(saved), "--prefs", ""]
    only_probes = subprocess.run(
        [*script, "--tastes", "bright", "--plot", str(figure)], capture_output=True, text=True, cwd=ROOT
    )
    assert only_probes.returncode != 0 and "no finished runs" in only_probes.stderr and not figure.exists()

    saved.write_text(json.dumps(probe) + "\n" + json.dumps({k: v for k, v in probe.items() if k != "probe"}) + "\n")
    kept = subprocess.run(
        [*script, "--tastes", "bright", "--plot", str(figure)], capture_output=True, text=True, cwd=ROOT
    )
    assert kept.returncode == 0, kept.stderr
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
