"""The `aigc` command, called in-process: train --dry-run end to end, sample, clear errors, --resume."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from aigc.cli import main
from aigc.models.checkpoint import load_module, read_checkpoint
from aigc.training import objectives


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # default run folders (runs/NAME) land in the test's folder


def last_json(capsys) -> dict:
    out = capsys.readouterr().out.strip().splitlines()
    return json.loads(out[-1])


@pytest.mark.parametrize("kind", ["gan", "vae", "classifier"])
def test_train_dry_run_end_to_end(kind, tmp_path, capsys):
    real = tmp_path / "runs" / kind / f"{kind}.safetensors"  # a real run's checkpoint, where a dry run once wrote
    real.parent.mkdir(parents=True)
    real.write_bytes(b"a real run's weights")
    assert main(["train", kind, "--dry-run", "--quiet"]) == 0
    report = last_json(capsys)
    assert real.read_bytes() == b"a real run's weights"
    ckpt = tmp_path / "runs" / f"{kind}-dry-run" / f"{kind}.safetensors"
    assert report["checkpoint"] == str(ckpt.relative_to(tmp_path)) and report["steps"] == 3
    module, record = load_module(ckpt)
    assert module.kind == kind and record.kind == kind and record.training["steps"] == 3
    assert record.training["command"] and record.dataset.startswith("synthetic")
    assert ckpt.with_suffix(".md").read_text().startswith(f"# {kind} ({kind})")
    assert (ckpt.parent / "loss.png").exists()
    assert not (ckpt.parent / "last.safetensors").exists()
    if kind == "vae":
        assert len(record.extra["latent_kl"]) == module.latent_dim
    if kind != "classifier":
        assert (ckpt.parent / "samples" / "step_000003.png").exists()


def test_train_dry_run_colour_64(tmp_path, capsys):
    assert (
        main(
            ["train", "gan", "--dry-run", "--quiet", "--size", "64", "--channels", "3", "--out", "big", "--name", "g64"]
        )
        == 0
    )
    _, record = load_module(tmp_path / "big" / "g64.safetensors")
    assert record.config["image_size"] == 64 and record.config["channels"] == 3


def test_sample_writes_a_png_of_the_right_size(tmp_path, capsys):
    assert main(["train", "gan", "--dry-run", "--quiet", "--out", "run"]) == 0
    ckpt = str(tmp_path / "run" / "gan.safetensors")
    capsys.readouterr()
    assert main(["sample", ckpt, "--n", "6", "--seed", "1", "--out", "a.png"]) == 0
    assert last_json(capsys)["out"] == "a.png"
    with Image.open(tmp_path / "a.png") as img:
        assert img.size == (3 * 30 + 2, 2 * 30 + 2)  # 6 images → 3 per row, 2 rows, 2-pixel padding
        a = np.asarray(img)
    assert main(["sample", ckpt, "--n", "6", "--seed", "1", "--out", "b.png", "--upscale", "2", "--nrow", "6"]) == 0
    with Image.open(tmp_path / "b.png") as img:
        assert img.size == (2 * (6 * 30 + 2), 2 * 32)
    assert main(["sample", ckpt, "--n", "6", "--seed", "1", "--out", "c.png"]) == 0
    assert main(["sample", ckpt, "--n", "6", "--seed", "2", "--out", "d.png"]) == 0
    np.testing.assert_array_equal(a, np.asarray(Image.open(tmp_path / "c.png")))  # same seed, same pixels
    assert not np.array_equal(a, np.asarray(Image.open(tmp_path / "d.png")))


def test_sample_refuses_a_pickle_with_exit_code_2(tmp_path, capsys):
    bad = tmp_path / "model.pkl"
    bad.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    assert main(["sample", str(bad), "--out", "x.png"]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "pickle" in err and err.startswith("aigc sample: error:")
    assert not (tmp_path / "x.png").exists()


def test_unknown_model_name_and_missing_data_exit_2(tmp_path, capsys):
    assert main(["sample", "no-such-model"]) == 2
    assert "no model named 'no-such-model'" in capsys.readouterr().err
    assert main(["train", "gan", "--data", str(tmp_path / "nowhere"), "--steps", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "nowhere") in err and "no such file or folder" in err


def test_resume_without_an_interrupted_run_exit_2(capsys):
    assert main(["train", "vae", "--dry-run", "--quiet", "--out", "r", "--resume"]) == 2
    assert "last.safetensors" in capsys.readouterr().err


def test_ctrl_c_then_resume_through_the_cli_matches_an_uninterrupted_run(tmp_path, capsys, monkeypatch):
    assert main(["train", "vae", "--dry-run", "--quiet", "--out", "full"]) == 0
    reference, _, _ = read_checkpoint(tmp_path / "full" / "vae.safetensors")

    original = objectives.VAEObjective.step
    calls = {"n": 0}

    def interrupt_second_step(self, batch):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # Ctrl-C during step 2 of 3
        return original(self, batch)

    monkeypatch.setattr(objectives.VAEObjective, "step", interrupt_second_step)
    assert main(["train", "vae", "--dry-run", "--out", "cut"]) == 130
    assert "continue with --resume" in capsys.readouterr().out
    assert (tmp_path / "cut" / "last.safetensors").exists()
    assert not (tmp_path / "cut" / "vae.safetensors").exists()
    monkeypatch.setattr(objectives.VAEObjective, "step", original)

    assert main(["train", "vae", "--dry-run", "--quiet", "--out", "cut", "--resume"]) == 0
    assert last_json(capsys)["steps"] == 3
    resumed, _, _ = read_checkpoint(tmp_path / "cut" / "vae.safetensors")
    assert resumed.keys() == reference.keys()
    for key in reference:
        assert torch.equal(resumed[key], reference[key]), key
    assert not (tmp_path / "cut" / "last.safetensors").exists()


def test_train_set_overrides_the_model_config_and_refuses_unknown_keys(tmp_path, capsys):
    assert main(["train", "vae", "--dry-run", "--quiet", "--set", "kl_weight=0.25", "--set", "latent_dim=5"]) == 0
    _, record = load_module(tmp_path / "runs" / "vae-dry-run" / "vae.safetensors")
    assert record.config["kl_weight"] == 0.25 and record.config["latent_dim"] == 5
    assert main(["train", "vae", "--dry-run", "--quiet", "--set", "sharpness=3"]) == 2
    assert "kl_weight" in capsys.readouterr().err  # the refusal lists the fields there are
    assert main(["train", "vae", "--dry-run", "--quiet", "--set", "kl_weight=lots"]) == 2
    assert "takes a float" in capsys.readouterr().err


def test_continuing_from_a_checkpoint_applies_set_and_refuses_a_reshaping_one(tmp_path, capsys):
    assert main(["train", "vae", "--dry-run", "--quiet", "--out", "first"]) == 0
    start = tmp_path / "first" / "vae.safetensors"
    assert load_module(start)[1].config["kl_weight"] == 1.0
    cont = ["train", "vae", "--dry-run", "--quiet", "--init", str(start)]
    assert main([*cont, "--out", "on", "--set", "kl_weight=0.1"]) == 0
    module, record = load_module(tmp_path / "on" / "vae.safetensors")
    assert module.cfg.kl_weight == 0.1 and record.config["kl_weight"] == 0.1
    # the same name: one model trained further, not a child; its card shows both commands in order
    assert record.parent is None and [s["steps"] for s in record.training["stages"]] == [3]
    card = (tmp_path / "on" / "vae.md").read_text()
    assert "Trained in 2 stages" in card and "- stage 1: steps: 3" in card and "- stage 2: steps: 3" in card
    assert main([*cont, "--out", "kid", "--name", "kid"]) == 0  # another name: a child version of it
    _, kid = load_module(tmp_path / "kid" / "kid.safetensors")
    assert kid.parent == "vae" and "stages" not in kid.training
    capsys.readouterr()
    assert main([*cont, "--out", "x", "--set", "latent_dim=5"]) == 2
    assert "no longer fit" in capsys.readouterr().err


def test_train_vae_with_a_fitted_prior_samples_from_it(tmp_path, capsys):
    assert main(["train", "vae", "--dry-run", "--quiet", "--prior-components", "8"]) == 0
    path = tmp_path / "runs" / "vae-dry-run" / "vae.safetensors"
    _, record = load_module(path)
    prior = record.extra["prior"]
    assert len(prior["weights"]) == 8 and abs(sum(prior["weights"]) - 1) < 1e-4
    from aigc.models.pipeline import load_model

    model = load_model(str(path))
    assert model.prior is not None
    z = model.latents(64, seed=0)
    assert np.array_equal(z, model.latents(64, seed=0))  # a seed still names the same latents
    model.prior = None
    assert not np.allclose(z, model.latents(64, seed=0))  # …drawn through the mixture, not N(0, I)


def test_train_gan_with_ema_records_the_decay(tmp_path, capsys):
    assert main(["train", "gan", "--dry-run", "--quiet", "--ema", "0.99"]) == 0
    _, record = load_module(tmp_path / "runs" / "gan-dry-run" / "gan.safetensors")
    assert record.training["config"]["ema_decay"] == 0.99
    assert main(["train", "gan", "--dry-run", "--quiet", "--ema", "1.5"]) == 2
    assert "decay" in capsys.readouterr().err


def test_prior_refits_a_vae_in_place_with_its_spread_and_refuses_a_gan(tmp_path, capsys):
    assert main(["train", "vae", "--dry-run", "--quiet"]) == 0
    path = tmp_path / "runs" / "vae-dry-run" / "vae.safetensors"
    tensors_before, _, _ = read_checkpoint(path)
    capsys.readouterr()
    assert main(["prior", str(path), "--components", "2", "--data", "synthetic", "--images", "64"]) == 0
    assert last_json(capsys)["components"] == 2
    tensors, record, _ = read_checkpoint(path)
    assert all(torch.equal(tensors[k], tensors_before[k]) for k in tensors_before)  # weights untouched
    narrow = np.array(record.extra["prior"]["scale_trils"])
    assert record.extra["prior_fit"]["by_class"] is True  # the synthetic bars are labelled
    assert (
        main(["prior", str(path), "--components", "2", "--data", "synthetic", "--images", "64", "--spread", "2"]) == 0
    )
    _, record, _ = read_checkpoint(path)
    assert np.allclose(np.array(record.extra["prior"]["scale_trils"]), 2 * narrow, atol=1e-4)
    assert "components drawn 2.0× their fitted scale" in path.with_suffix(".md").read_text()
    assert main(["train", "gan", "--dry-run", "--quiet"]) == 0
    assert main(["prior", str(tmp_path / "runs" / "gan-dry-run" / "gan.safetensors"), "--data", "synthetic"]) == 2
    assert "only a VAE" in capsys.readouterr().err
