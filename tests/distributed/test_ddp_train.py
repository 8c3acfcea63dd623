"""Data-parallel training: `torchrun --nproc_per_node 2 -m aigc.cli train ...` on 2 CPU processes (gloo).

The ranks must end with identical weights; rank 0 alone writes; and the result must match a
single-process run with the same global batch. Not bitwise: BatchNorm normalises each rank's rows
with their own statistics (SyncBatchNorm is CUDA-only), and sums run in another order. So the
comparison is in function space (decoded images of fixed latents + encoder means / discriminator
logits), relative to how far training moved the model; a single-process run with another seed
is the yardstick of "different" (measured here: DDP 0.09 (VAE) / 0.01 (GAN), other seed 1.2 / 0.4).
"""

from __future__ import annotations

import pytest
import torch

from aigc.cli import main
from aigc.data.datasets import synthetic_dataset
from aigc.models import GAN, VAE, Classifier, ClassifierConfig, GANConfig, VAEConfig
from aigc.models.checkpoint import CheckpointRecord, build_model, tensors_sha256
from aigc.training import distributed
from aigc.training.loop import TrainConfig, train

from .conftest import as_module, free_port, json_lines, read_weights, torchrun

TRAIN_ARGS = [
    "--data",
    "synthetic",
    "--limit",
    "256",
    "--steps",
    "20",
    "--batch-size",
    "32",
    "--width",
    "8",
    "--latent-dim",
    "8",
    "--sample-every",
    "10",
    "--checkpoint-every",
    "10",
    "--quiet",
]


def features(model: torch.nn.Module) -> torch.Tensor:
    """What the model computes, on fixed inputs: decoded fixed latents, plus encoder means or D logits of data."""
    z = torch.randn(256, model.latent_dim, generator=torch.Generator().manual_seed(3))
    x = synthetic_dataset(n=256).images
    with torch.no_grad():
        side = model.encode(x)[0] if model.kind == "vae" else model.discriminator(x)[:, None]
        return torch.cat([model.decode(z).flatten(1), side], 1)


def relative_gap(a, b, init) -> float:
    fa, fb, fi = features(a), features(b), features(init)
    return float((fa - fb).norm() / (fb - fi).norm())


@pytest.mark.integration
@pytest.mark.timeout(600)
@pytest.mark.parametrize("kind", ["vae", "gan"])
def test_two_processes_end_identical_and_match_one_process_with_the_same_global_batch(
    kind, home, tmp_path, capsys, monkeypatch
):
    out, dump = tmp_path / "ddp", tmp_path / "dump"
    proc = torchrun(["train", kind, *TRAIN_ARGS, "--out", str(out)], dump, home)

    # every rank holds the same weights (parameters and averaged BatchNorm statistics) ...
    r0, r1 = read_weights(dump / "rank0.safetensors")[0], read_weights(dump / "rank1.safetensors")[0]
    assert r0.keys() == r1.keys() and all(torch.equal(r0[k], r1[k]) for k in r0)
    # ... and rank 0 alone wrote them, once: one result line, one log, one checkpoint and card, grids
    saved, record = read_weights(out / f"{kind}.safetensors")
    assert all(torch.equal(saved[k], r0[k]) for k in r0)
    assert record["training"]["world_size"] == 2 and record["training"]["rank_divergence"] == 0.0
    assert record["training"]["steps"] == 20
    assert len(json_lines(proc.stdout)) == 1 and json_lines(proc.stdout)[0]["steps"] == 20
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["log.jsonl", "loss.png", "samples", f"{kind}.md", f"{kind}.safetensors"]
    )
    assert [row["step"] for row in json_lines((out / "log.jsonl").read_text())] == [20]
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step_000010.png", "step_000020.png"]

    # the same command in one process (in-process), and one with another seed as the yardstick
    monkeypatch.chdir(tmp_path)
    assert main(["train", kind, *TRAIN_ARGS, "--out", str(tmp_path / "one")]) == 0
    assert main(["train", kind, *TRAIN_ARGS, "--out", str(tmp_path / "other"), "--seed", "1"]) == 0
    capsys.readouterr()
    ddp, one, other = (as_module(p / f"{kind}.safetensors") for p in (out, tmp_path / "one", tmp_path / "other"))
    torch.manual_seed(0)
    init = build_model(CheckpointRecord(**{**record, "training": {}, "extra": {}})).eval()
    gap, yardstick = relative_gap(ddp, one, init), relative_gap(other, one, init)
    assert gap < 0.25 and gap < yardstick / 4, (gap, yardstick)
    losses_ddp, losses_one = (
        record["training"]["final_losses"],
        read_weights(tmp_path / "one" / f"{kind}.safetensors")[1]["training"]["final_losses"],
    )
    for key, value in losses_one.items():
        assert losses_ddp[key] == pytest.approx(value, rel=0.05, abs=0.05), key


@pytest.mark.integration
def test_global_batch_must_split_evenly(home, tmp_path):
    """An odd global batch over 2 processes is refused on every rank with a clear message (torchrun exits non-zero)."""
    import subprocess
    import sys

    from .conftest import child_env

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
        "-m",
        "aigc.cli",
        "train",
        "vae",
        "--data",
        "synthetic",
        "--limit",
        "64",
        "--steps",
        "2",
        "--batch-size",
        "15",
        "--width",
        "8",
        "--quiet",
        "--out",
        str(tmp_path / "odd"),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=child_env(home), cwd=tmp_path)
    assert proc.returncode != 0
    assert "must be divisible by the number of processes (2)" in proc.stderr
    assert not (tmp_path / "odd" / "vae.safetensors").exists()


# ---------------------------------------------------------------- the data-parallel path, in-process


@pytest.fixture
def group_of_one(monkeypatch):
    """A real gloo process group of one process: the DDP code path without launching anything."""
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(free_port()))
    info = distributed.join(0, 1, 0, "cpu", "gloo")
    try:
        yield info
    finally:
        distributed.shutdown()


TINY = {
    "gan": lambda: GAN(GANConfig(g_width=8, d_width=8, latent_dim=16)),
    "vae": lambda: VAE(VAEConfig(width=8, hidden=32, latent_dim=8)),
    "classifier": lambda: Classifier(ClassifierConfig(width=8, embed_dim=16)),
}


@pytest.mark.parametrize("weighting", ["sampler", "loss"])
def test_the_ddp_path_with_one_process_is_bitwise_the_plain_loop(group_of_one, tmp_path, weighting):
    """DDP wrappers, sliced noise, the per-step all-reduce, the loss-weight rescaling and the buffer averaging:
    with one rank every one of them is an identity, so the result must equal the plain loop's bit for bit."""
    data = synthetic_dataset(n=96)
    weights = torch.linspace(0.2, 2.0, 96)
    for kind, make in TINY.items():
        hashes, losses = [], []
        for dist in (distributed.SINGLE, group_of_one):
            torch.manual_seed(0)
            model = make()
            cfg = TrainConfig(
                out_dir=str(tmp_path / f"{kind}-{dist.parallel}"),
                steps=6,
                batch_size=32,
                progress=False,
                sample_every=3,
                checkpoint_every=4,
                log_every=2,
                weighting=weighting,
            )
            result = train(model, data, cfg, CheckpointRecord(kind=kind, config={}), weights=weights, dist=dist)
            hashes.append(tensors_sha256(model.state_dict()))
            losses.append(result.final_losses)
        assert hashes[0] == hashes[1] and losses[0] == losses[1], kind


def test_rows_split_the_global_batch_into_contiguous_equal_slices():
    infos = [distributed.DistInfo(rank=r, world_size=4, is_main=r == 0, parallel=True) for r in range(4)]
    assert [i.rows(32) for i in infos] == [slice(0, 8), slice(8, 16), slice(16, 24), slice(24, 32)]
    with pytest.raises(ValueError, match="divisible"):
        infos[1].rows(30)
    assert distributed.init_from_env() == distributed.SINGLE  # without torchrun: a plain single-process run


@pytest.mark.integration
@pytest.mark.timeout(900)
def test_ctrl_c_stops_every_rank_at_the_same_step_and_resume_matches_an_uninterrupted_run(home, tmp_path):
    """Ctrl-C (SIGINT to torchrun's process group): the ranks vote, stop after the same step, rank 0 writes
    OUT/last.safetensors; the same command with --resume then ends bit for bit where an uninterrupted run ends."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from .conftest import HERE, child_env

    def command(out, *extra):
        return [
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
            str(tmp_path / f"{out}-dump"),
            "train",
            "vae",
            "--data",
            "synthetic",
            "--limit",
            "256",
            "--steps",
            "60",
            "--batch-size",
            "32",
            "--width",
            "8",
            "--latent-dim",
            "8",
            "--sample-every",
            "0",
            "--quiet",
            "--out",
            str(tmp_path / out),
            *extra,
        ]

    env = child_env(home)
    proc = subprocess.Popen(
        command("stopped"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**env, "AIGC_TEST_HOLD_AT_STEP": "21"},  # both ranks wait before step 21's all-reduce until Ctrl-C
        cwd=tmp_path,
        start_new_session=True,
    )
    log, held = tmp_path / "stopped" / "log.jsonl", [tmp_path / "stopped-dump" / f"held-rank{r}" for r in (0, 1)]
    deadline = time.monotonic() + 300
    while not all(p.exists() for p in held):  # handshake: every rank is past the first log line and waiting
        assert proc.poll() is None and time.monotonic() < deadline, "the ranks never reached step 21"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: every process of the group gets it
    _, err = proc.communicate(timeout=120)
    assert "[rank0]: Traceback" not in err and "[rank1]: Traceback" not in err, err[-3000:]
    assert (tmp_path / "stopped" / "last.safetensors").exists() and not (
        tmp_path / "stopped" / "vae.safetensors"
    ).exists()
    stopped_at = json_lines(log.read_text())[-1]["step"]
    assert stopped_at == 20  # held at step 21, voted to stop at step 22: no further log line

    resumed = subprocess.run(
        command("stopped", "--resume"), capture_output=True, text=True, env=env, cwd=tmp_path, timeout=180
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    steps = [row["step"] for row in json_lines(log.read_text())]
    assert steps == list(range(20, 61, 20)) and stopped_at < 60
    torchrun(["train", "vae", *command("plain")[command("plain").index("vae") + 1 :]], tmp_path / "plain-dump", home)

    a, b = (
        read_weights(tmp_path / "stopped" / "vae.safetensors")[0],
        read_weights(tmp_path / "plain" / "vae.safetensors")[0],
    )
    assert [k for k in b if not torch.equal(a[k], b[k])] == []
    r1 = read_weights(tmp_path / "stopped-dump" / "rank1.safetensors")[0]
    assert all(torch.equal(a[k], r1[k]) for k in a)
