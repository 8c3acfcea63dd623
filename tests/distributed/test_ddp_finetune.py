"""Data-parallel fine-tuning: `torchrun --nproc_per_node 2 -m aigc.cli finetune ...`.

Rank 0 reads the ratings, fits the reward, computes the weights and shares data + weights with
rank 1; both train; rank 0 alone writes the run row, the child version and its files.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from aigc.cli import main
from aigc.data.datasets import synthetic_dataset
from feedback_db import FeedbackStore
from tests.tiny import band_class, train_tiny

from .conftest import HERE, as_module, child_env, free_port, json_lines, read_weights, torchrun
from .test_ddp_train import relative_gap

FT_ARGS = ["--steps", "20", "--batch-size", "32", "--eval-n", "64"]


@pytest.fixture
def rated(home, tmp_path):
    """A tiny VAE trained on synthetic bars, 40 of its samples rated (band 0 liked) in a SQLite file;
    returns (db url, models folder, names of the versions registered so far, shipped ones included)."""
    from aigc.service.studio import Studio

    models = tmp_path / "models"
    train_tiny("vae", synthetic_dataset(n=256), models / "syn-vae.safetensors", 60, tmp_path / "run", hidden=32, seed=0)
    db = f"sqlite:///{tmp_path / 'feedback.sqlite3'}"
    with Studio.open(db_url=db, models_dir=models) as studio:
        batch = studio.sample("syn-vae", 40, 1, rater="sim")
        for sample_id, b in zip(batch.sample_ids, band_class(batch.images)):
            studio.rate(sample_id, 1.0 if b == 0 else -1.0, "sim")
        versions = {v.name for v in studio.store.list_versions()}
    return db, models, versions


@pytest.mark.integration
@pytest.mark.timeout(600)
def test_two_process_finetune_writes_once_and_matches_one_process(rated, home, tmp_path, capsys):
    db, models, versions = rated
    dump = tmp_path / "dump"
    proc = torchrun(
        ["finetune", "syn-vae", "--db", db, "--models", str(models), "--name", "ddp-ft", *FT_ARGS], dump, home
    )

    lines = [row for row in json_lines(proc.stdout) if "child" in row]
    assert len(lines) == 1 and lines[0]["child"] == "ddp-ft"
    with FeedbackStore(db) as store:
        runs = store.list_runs()
        assert [(r.status, r.child_version_id is not None) for r in runs] == [("succeeded", True)]
        assert {v.name for v in store.list_versions()} == versions | {"ddp-ft"}
    assert sorted(p.name for p in models.iterdir()) == ["ddp-ft.md", "ddp-ft.safetensors", "syn-vae.safetensors"]

    r0, r1 = read_weights(dump / "rank0.safetensors")[0], read_weights(dump / "rank1.safetensors")[0]
    assert all(torch.equal(r0[k], r1[k]) for k in r0)
    saved, record = read_weights(models / "ddp-ft.safetensors")
    assert all(torch.equal(saved[k], r0[k]) for k in r0)
    assert record["training"]["world_size"] == 2 and record["training"]["rank_divergence"] == 0.0

    assert main(["finetune", "syn-vae", "--db", db, "--models", str(models), "--name", "one-ft", *FT_ARGS]) == 0
    one_line = json_lines(capsys.readouterr().out)[-1]
    parent, ddp, one = (as_module(models / f"{n}.safetensors") for n in ("syn-vae", "ddp-ft", "one-ft"))
    assert relative_gap(ddp, one, parent) < 0.25
    assert lines[0]["mean_reward_after"] == pytest.approx(one_line["mean_reward_after"], abs=0.05)
    assert lines[0]["mean_reward_after"] > lines[0]["mean_reward_before"]


@pytest.mark.integration
def test_when_rank_0_cannot_start_the_others_exit_too(rated, home, tmp_path):
    """Too few ratings: rank 0 stops before training and releases rank 1 (no hang, exit code 3, no run row)."""
    db, models, versions = rated
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(free_port()),
        str(HERE / "rank_worker.py"),
        str(tmp_path / "dump"),
        "finetune",
        "syn-vae",
        "--db",
        db,
        "--models",
        str(models),
        "--min-ratings",
        "500",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=child_env(home), cwd=tmp_path)
    assert proc.returncode != 0
    assert "aigc finetune:" in proc.stderr and "500" in proc.stderr
    assert "exitcode  : 3" in proc.stderr  # the reason, not a crash: no rank raised
    assert "[rank0]: Traceback" not in proc.stderr and "[rank1]: Traceback" not in proc.stderr
    with FeedbackStore(db) as store:
        assert store.list_runs() == [] and {v.name for v in store.list_versions()} == versions
