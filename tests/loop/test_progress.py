"""Fine-tune progress tells the truth: its stages in order, time elapsed and left, and the child at once.

The child used to appear only when the `aigc finetune` process had exited and the page noticed: the bar
said "100% · done" while nothing was selectable. Now the run announces the registered child and the
studio lists it while the process is still running; the test holds the process before it exits to
prove it (a handshake, not a race with the exit).
"""

from __future__ import annotations

import re
import sys
import textwrap
import time

import pytest

from aigc.service.jobs import JobStatus, apply_event, duration
from aigc_ui.progress import BAR_FILLS, progress_html

from .conftest import rate_by_band

# Runs the real `aigc finetune`, then waits while the gate file exists before it exits.
HELD_CLI = textwrap.dedent(
    """
    import os, sys, time
    from aigc.cli.main import main
    code = main(sys.argv[2:])
    while os.path.exists(sys.argv[1]):
        time.sleep(0.02)
    sys.exit(code)
    """
)

VAE_STAGES = [
    *("ratings", "embedding", "reward", "weights", "training", "prior", "tilt"),
    *("evaluating", "publishing", "published"),
]


def _wait_for(check, seconds: float = 120.0, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_stages_elapsed_and_estimate_from_progress_events():
    status = JobStatus("m", "running", "starting", started=100.0)
    assert not apply_event(status, {"stage": "ratings", "progress": 0.0}, now=101.0)
    apply_event(status, {"stage": "training", "progress": 0.1, "step": 0, "steps": 10}, now=102.0)
    assert status.eta_s is None and "estimating time left" in status.label(now=102.0)  # no pace yet: no guess
    apply_event(status, {"stage": "training", "progress": 0.45, "step": 5, "steps": 10, "loss": 1.5}, now=112.0)
    # 0.35 of progress in 10 s → the 0.55 still to come takes about 15.7 s
    assert status.eta_s is not None and abs(status.eta_s - 10 / 0.35 * 0.55) < 1e-6
    assert status.remaining_s(now=117.0) == status.eta_s - 5  # counted down between events
    label = status.label(now=117.0)
    assert label.startswith("training step 5/10 · loss 1.500") and "17 s elapsed" in label and "11 s left" in label
    apply_event(status, {"stage": "evaluating", "progress": 0.85}, now=120.0)
    assert status.label(now=120.0).startswith("measuring parent vs child · 20 s elapsed")
    assert apply_event(status, {"stage": "published", "progress": 1.0, "child": "m-ft1"}, now=125.0)
    assert status.child == "m-ft1" and status.remaining_s(now=125.0) == 0.0
    assert status.label(now=125.0) == "new version m-ft1 registered · 25 s elapsed"  # no "left" once it exists
    assert status.stages == ["ratings", "training", "evaluating", "published"]
    assert [duration(s) for s in (42, 185, 3720)] == ["42 s", "3 min 05 s", "1 h 02 min"]


@pytest.mark.integration  # a real `aigc finetune` child process
def test_child_is_listed_as_soon_as_it_is_registered_while_the_process_still_runs(studio, tmp_path):
    rate_by_band(studio, "syn-vae", liked_band=2, n=40)
    script, gate = tmp_path / "held_cli.py", tmp_path / "exit-gate"
    script.write_text(HELD_CLI)
    gate.touch()
    studio.jobs.launcher = [sys.executable, str(script), str(gate)]
    try:
        studio.start_finetune("syn-vae", steps=10)
        _wait_for(lambda: studio.finetune_status("syn-vae").child is not None, what="the child to be registered")
        status = studio.finetune_status("syn-vae")
        assert status.active and status.state == "running"  # held before exit: nothing waited for the exit
        assert status.stages[: len(VAE_STAGES)] == VAE_STAGES and status.stages[len(VAE_STAGES) :] in ([], ["done"])
        assert status.step == status.steps == 10
        assert status.elapsed_s() > 0 and status.remaining_s() == 0.0
        assert status.label().startswith(f"new version {status.child} registered · ")
        # listed (and so in every picker) right away: the registry was refreshed when the run announced it
        listed = {m.name: m.parent for m in studio.models()}
        assert listed.get(status.child) == "syn-vae"
        parents, children, _ = studio.compare(status.child, n=2, seed=0)
        assert parents.shape == children.shape
    finally:
        gate.unlink(missing_ok=True)
    final = studio.jobs.wait("syn-vae", timeout=120)
    assert final.state == "succeeded" and final.stages[-1] == "done", final.message
    assert "mean_reward_after" in final.metrics


def test_the_bar_label_is_the_stage_with_elapsed_time_and_says_when_the_child_exists():
    status = JobStatus("m", "running", "starting", started=time.time() - 3)
    apply_event(status, {"stage": "embedding", "progress": 0.02}, now=time.time())
    bar = progress_html(status)
    assert "role='progressbar'" in bar and "aria-valuenow='2'" in bar and "data-stage='embedding'" in bar
    assert re.search(r"2% · embedding the rated images · \d+ s elapsed · estimating time left…", bar)
    apply_event(status, {"stage": "published", "progress": 1.0, "child": "m-<b>ft1</b>"}, now=time.time())
    bar = progress_html(status)
    assert re.search(r"100% · new version m-&lt;b&gt;ft1&lt;/b&gt; registered · \d+ s elapsed<", bar)  # name as text
    assert BAR_FILLS["done"] in bar  # the green of a finished run, though the process may still be exiting
