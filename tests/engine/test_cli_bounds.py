"""`aigc train` refuses what would not fit, in one line and before the data loads: out-of-range model sizes and
loss weights, an `--init` of another kind or shape, a file as `--data`, and a `--resume` on other data."""

from __future__ import annotations

import pytest
from PIL import Image

from aigc.cli import main
from aigc.models.checkpoint import CheckpointError, CheckpointRecord, build_model, load_module


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize(
    ("kind", "setting", "words"),
    [
        ("vae", "kl_weight=nan", "kl_weight must be a finite number from 0 to 1000"),
        ("vae", "kl_weight=-5", "kl_weight must be a number from 0 to 1000, got -5.0"),
        ("vae", "hidden=0", "hidden must be a whole number from 1 to 8192"),
        ("gan", "g_extra_convs=100", "g_extra_convs must be a whole number from 0 to 8, got 100"),
        ("classifier", "num_classes=1", "num_classes must be a whole number from 2 to 1000"),
    ],
)
def test_a_setting_out_of_range_is_refused_before_the_data_loads(kind, setting, words, capsys):
    # --data names no folder: the setting's refusal comes first, so nothing was read or trained
    assert main(["train", kind, "--data", "nowhere", "--steps", "1", "--quiet", "--set", setting]) == 2
    err = capsys.readouterr().err
    assert words in err and "nowhere" not in err and err.count("\n") == 1


@pytest.mark.parametrize(("flag", "value"), [("--latent-dim", "100000"), ("--width", "5000"), ("--width", "0")])
def test_a_network_size_out_of_range_is_argparses_one_line(flag, value, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["train", "gan", "--dry-run", flag, value])
    assert stop.value.code == 2
    assert f"argument {flag}: must be a whole number from" in capsys.readouterr().err


def test_a_checkpoint_header_naming_a_huge_network_is_refused_before_allocating_it():
    record = CheckpointRecord(kind="gan", config={"g_width": 10**6, "latent_dim": 10**6})
    with pytest.raises(CheckpointError, match="latent_dim must be a whole number from 1 to 1024"):
        build_model(record, "huge.safetensors")
    with pytest.raises(CheckpointError, match="channels must be 1"):
        build_model(CheckpointRecord(kind="vae", config={"channels": 2}), "odd.safetensors")


def test_a_loss_that_stops_being_a_number_ends_in_one_line(capsys):
    assert main(["train", "vae", "--dry-run", "--quiet", "--lr", "1e30"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("aigc train: error: loss became non-finite") and "Traceback" not in "".join(err)


def test_init_of_another_kind_or_shape_is_refused_and_its_own_shape_is_the_default(tmp_path, capsys):
    assert main(["train", "vae", "--dry-run", "--quiet", "--size", "32", "--channels", "3", "--out", "a"]) == 0
    start = str(tmp_path / "a" / "vae.safetensors")
    capsys.readouterr()
    assert main(["train", "gan", "--dry-run", "--quiet", "--init", start]) == 2
    assert "is a vae, not a gan" in capsys.readouterr().err
    assert main(["train", "vae", "--dry-run", "--quiet", "--init", start, "--channels", "1"]) == 2
    err = capsys.readouterr().err
    assert "draws 3-channel 32×32 images; --channels 1 would not fit" in err and "Traceback" not in err
    # no --size or --channels: the checkpoint's own (before: 28 px greyscale data, and a traceback)
    assert main(["train", "vae", "--dry-run", "--quiet", "--init", start, "--out", "b"]) == 0
    module, _ = load_module(tmp_path / "b" / "vae.safetensors")
    assert (module.cfg.image_size, module.cfg.channels) == (32, 3)


def test_data_that_is_a_file_is_refused_and_limit_holds_for_a_folder(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("not a dataset")
    assert main(["train", "vae", "--data", "notes.txt", "--steps", "1", "--quiet"]) == 2
    assert "--data notes.txt: is a file" in capsys.readouterr().err  # before: Fashion-MNIST, without a word
    folder = tmp_path / "pictures"
    folder.mkdir()
    for i in range(9):
        Image.new("L", (28, 28), 20 * i).save(folder / f"{i}.png")
    assert main(["train", "vae", "--data", str(folder), "--limit", "4", "--steps", "1", "--quiet"]) == 0
    assert ", 4 images (1, 28, 28)" in capsys.readouterr().err  # before: all 9


def test_resume_on_other_data_is_refused_and_on_the_same_data_goes_on(tmp_path, capsys, monkeypatch):
    from aigc.training import objectives

    original = objectives.VAEObjective.step
    calls = {"n": 0}

    def interrupt_second_step(self, batch):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(objectives.VAEObjective, "step", interrupt_second_step)
    run = ["train", "vae", "--data", "synthetic", "--steps", "3", "--batch-size", "8", "--quiet", "--out", "cut"]
    assert main([*run, "--limit", "40"]) == 130
    monkeypatch.setattr(objectives.VAEObjective, "step", original)
    capsys.readouterr()
    assert main([*run, "--resume"]) == 2  # the first run's --limit left out: 256 synthetic images, not 40
    err = capsys.readouterr().err
    assert "trained on synthetic:40x28 (40 images), this one loads synthetic:256x28 (256 images)" in err
    assert (tmp_path / "cut" / "last.safetensors").exists()  # nothing lost: the run can still go on
    assert main([*run, "--limit", "40", "--resume"]) == 0
