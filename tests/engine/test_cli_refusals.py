"""The CLI refuses what the API refuses, with one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import pytest
import torch

from aigc.cli import main


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    lines = [ln for ln in captured.err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


@pytest.mark.parametrize(
    "args,words",
    [
        (["--n", "-1"], "number of images must be a whole number from 1 to 64, got -1"),
        (["--n", "0"], "number of images must be a whole number from 1 to 64, got 0"),
        (["--n", "100000"], "number of images"),
        (["--seed", "-3"], "seed must be a whole number from 0 to 2147483647"),
        (["--truncation", "nan"], "truncation must be a finite number"),
    ],
)
def test_sample_refuses_what_the_api_refuses(args, words, capsys, tmp_path):
    assert main(["sample", "fashion-gan", "--out", str(tmp_path / "g.png"), *args]) == 2
    assert words in one_line_error(capsys)
    assert not (tmp_path / "g.png").exists()  # --n 0 used to exit 0 with an empty PNG


def test_cuda_on_a_cpu_only_torch_is_one_line(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["sample", "fashion-gan", "--n", "2", "--device", "cuda", "--out", str(tmp_path / "g.png")]) == 2
    line = one_line_error(capsys)
    assert "'cuda' is not available here" in line and "--device cpu" in line


def test_an_unknown_device_is_one_line(capsys, tmp_path):
    assert main(["sample", "fashion-gan", "--n", "2", "--device", "tpu9", "--out", str(tmp_path / "g.png")]) == 2
    assert "unknown device 'tpu9'" in one_line_error(capsys)


@pytest.mark.parametrize("command", ["sample", "evaluate"])
def test_the_classifier_is_not_sampled_or_evaluated(command, capsys, tmp_path):
    """It is among the known models; both ended in "'Classifier' object has no attribute 'latent_dim'"."""
    assert main([command, "fashion-classifier", "--n", "2"]) == 2
    assert "fashion-classifier is a classifier, not a GAN or a VAE" in one_line_error(capsys)


def test_a_grid_that_cannot_be_written_is_one_line(capsys, tmp_path):
    (tmp_path / "grid.png").write_bytes(b"")  # a file where --out wants a folder
    assert main(["sample", "fashion-gan", "--n", "2", "--out", str(tmp_path / "grid.png" / "x.png")]) == 2
    assert "cannot write the grid there" in one_line_error(capsys)


def test_sample_still_works_in_range(capsys, tmp_path):
    assert main(["sample", "fashion-gan", "--n", "2", "--seed", "7", "--out", str(tmp_path / "g.png")]) == 0
    assert (tmp_path / "g.png").stat().st_size > 0


def test_finetune_while_a_run_of_the_same_parent_runs_is_one_line(tmp_path, tiny_model, record, capsys):
    """An untrained tiny GAN is enough: the clash is found before any training."""
    from aigc.models.checkpoint import save_model
    from aigc.service.studio import Studio

    folder = tmp_path / "models"
    save_model(folder / "toy-gan.safetensors", tiny_model("gan"), record("gan", name="toy-gan"))
    db = f"sqlite:///{tmp_path / 'feedback.sqlite'}"
    with Studio.open(db, models_dir=folder) as studio:
        batch = studio.sample("toy-gan", 24, 1, rater="r")
        for i, sample_id in enumerate(batch.sample_ids):
            studio.rate(sample_id, 1.0 if i % 2 else -1.0, "r")
        running = studio.store.start_run(studio.version("toy-gan").id, {}, n_ratings=24)  # alive: this process
    capsys.readouterr()
    assert main(["finetune", "toy-gan", "--db", db, "--models", str(folder), "--steps", "2", "--eval-n", "8"]) == 2
    line = one_line_error(capsys)
    assert line.startswith("aigc finetune: error: ") and f"run {running}" in line and "still running" in line
    with Studio.open(db, models_dir=folder) as studio:
        assert [r.status for r in studio.store.list_runs()] == ["running"]  # the first run is untouched


def test_a_folders_unreadable_image_is_one_plain_warning_line(capsys, tmp_path):
    """Not Python's format (the file, the line number and the source line that warned, which reads like a crash)."""
    import numpy as np
    from PIL import Image

    folder = tmp_path / "mine"
    folder.mkdir()
    for i in range(8):
        Image.fromarray(np.full((40, 30), 30 * i, np.uint8)).save(folder / f"p{i}.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a picture")
    argv = ["train", "vae", "--data", str(folder), "--steps", "1", "--batch-size", "4", "--width", "8"]
    assert main([*argv, "--latent-dim", "4", "--quiet", "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    assert f"aigc train: warning: {folder}: skipped 1 unreadable image(s): broken.jpg\n" in err
    assert "UserWarning" not in err and "load_image_folder(" not in err


@pytest.mark.parametrize(
    "args,words",
    [
        (
            ["train", "gan", "--dry-run", "--batch-size", "-5"],
            "argument --batch-size: must be a whole number at least 1",
        ),
        (["train", "gan", "--dry-run", "--epochs", "-1"], "argument --epochs: must be a number above 0, got -1"),
        (["train", "gan", "--dry-run", "--threads", "-2"], "argument --threads: must be a whole number at least 0"),
        (["train", "gan", "--dry-run", "--lr", "nan"], "argument --lr: must be a number above 0, got nan"),
        (["evaluate", "fashion-gan", "--n", "0"], "argument --n: must be a whole number from 2 to 200000, got 0"),
        (["filter", "fashion-gan", "--threads", "-1"], "argument --threads: must be a whole number at least 0"),
        (["sample", "fashion-gan", "--upscale", "0"], "argument --upscale: must be a whole number from 1 to 32"),
        (["worker", "--concurrency", "0"], "argument --concurrency: must be a whole number at least 1, got 0"),
        (["train", "gan", "--dry-run", "--width", "ten"], "argument --width: must be a whole number, got 'ten'"),
        (["train", "gan", "--dry-run", "--ema", "-1"], "argument --ema: must be a number at least 0, got -1"),
        (["train", "gan", "--dry-run", "--seed", "-1"], "argument --seed: must be a whole number from 0 to"),
        (["finetune", "fashion-gan", "--seed", "-1"], "argument --seed: must be a whole number from 0 to"),
    ],
)
def test_a_number_out_of_its_range_is_refused_before_anything_runs(args, words, capsys):
    """Each of these ran before (a batch size of -5 trained and reported -16.9 images/s) or ended in a
    traceback from torch."""
    with pytest.raises(SystemExit) as exit_:
        main(args)
    captured = capsys.readouterr()
    assert exit_.value.code == 2 and "Traceback" not in captured.err
    assert words in captured.err.strip().splitlines()[-1]


@pytest.mark.parametrize(
    "args", [["filter", "fashion-gan"], ["prior", "fashion-vae"], ["evaluate", "fashion-vae", "--update-card"]]
)
def test_a_shipped_checkpoint_is_rewritten_only_when_asked(args, capsys):
    """A rewritten shipped file has a new hash: the studio retires its version and every rating of it."""
    from aigc.paths import PRETRAINED_DIR

    name = args[1]
    before = (PRETRAINED_DIR / f"{name}.safetensors").read_bytes()
    assert main(args) == 2
    line = one_line_error(capsys)
    assert f"{name} is a shipped model: rewriting it retires its version's ratings" in line and "--shipped" in line
    assert (PRETRAINED_DIR / f"{name}.safetensors").read_bytes() == before
