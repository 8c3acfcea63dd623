"""A fine-tune stopped during training (Ctrl-C; under torchrun also a cancel's SIGTERM, which the ranks vote on)
is a failed run with no child: the training loop keeps its resumable checkpoint and returns, and the run once
went on to publish the child of those few steps as a success."""

import os
import signal
import subprocess
import sys
import time

import pytest

from aigc.feedback.finetune import FinetuneConfig, finetune

from .conftest import rate_by_band


def test_a_run_stopped_during_training_makes_no_child(studio, models_dir):
    """Ctrl-C, or under torchrun the SIGTERM of a cancel, stops the training loop between steps (it keeps a
    resumable checkpoint and returns); the run went on and published the half-trained child as a success."""
    rate_by_band(studio, "syn-vae", liked_band=2, n=40)
    before = {v.name for v in studio.store.list_versions()}

    def stop_at_step_3(stage, fraction, info):
        if stage == "training" and info.get("step") == 3:
            raise KeyboardInterrupt  # what Ctrl-C does between steps

    with pytest.raises(KeyboardInterrupt, match="stopped at step 3 of 10"):
        finetune(
            "syn-vae",
            studio.store,
            FinetuneConfig(steps=10, eval_n=50, progress=False),
            models_dir=models_dir,
            on_progress=stop_at_step_3,
        )
    (run,) = studio.store.list_runs()
    assert run.status == "failed" and "stopped at step 3 of 10" in run.error and run.child_version_id is None
    assert {v.name for v in studio.store.list_versions()} == before
    assert not [p for p in os.listdir(models_dir) if p.startswith("syn-vae-ft")]


@pytest.mark.integration
def test_ctrl_c_during_training_is_one_line_a_failed_run_and_no_child(studio, models_dir, home):
    rate_by_band(studio, "syn-vae", liked_band=1, n=60)
    cmd = [sys.executable, "-m", "aigc.cli", "finetune", "syn-vae", "--db", str(studio.store.url)]
    cmd += ["--models", models_dir, "--steps", "10000", "--json-progress", "--threads", "1"]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "AIGC_HOME": str(home)}
    )
    deadline = time.time() + 60
    for line in proc.stdout:  # wait until it is training, then press Ctrl-C
        if ('"stage": "training"' in line and '"step": 0' not in line) or time.time() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("aigc finetune: stopped: training stopped at step "), err
    assert "Traceback" not in err
    (run,) = studio.store.list_runs()
    assert run.status == "failed" and "no child was made" in run.error  # before: a child of a few steps, 'succeeded'
    assert not [v for v in studio.store.list_versions() if v.parent_id is not None]
