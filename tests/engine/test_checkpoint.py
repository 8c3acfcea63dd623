"""Checkpoints: exact round trips, refusal of anything that is not ours (never unpickling), atomic saves."""

from __future__ import annotations

import os
import pathlib
import pickle
import struct

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from aigc import CheckpointError, load_model
from aigc.models.cards import write_card
from aigc.models.checkpoint import (
    CheckpointRecord,
    load_module,
    peek_record,
    read_checkpoint,
    save_model,
    save_tensors,
)
from aigc.models.pipeline import ImageModel
from aigc.training.loop import TrainConfig, save_final, train


@pytest.fixture
def trained(tmp_path, tiny_model, toy_data):
    """trained(kind) → (model, path): a tiny model after 4 steps (so BatchNorm stats are not defaults), saved."""

    def make(kind: str = "gan"):
        model = tiny_model(kind)
        rec = CheckpointRecord(kind=kind, config={}, name=f"tiny-{kind}", dataset=toy_data.name, parent="grandparent")
        train(
            model,
            toy_data,
            TrainConfig(out_dir=str(tmp_path / f"run-{kind}"), steps=4, batch_size=32, progress=False, sample_every=0),
            rec,
        )
        path = save_final(tmp_path / "models" / f"tiny-{kind}.safetensors", model, rec)
        return model, path

    return make


def test_gan_round_trip_gives_identical_samples(trained):
    model, path = trained("gan")
    before = ImageModel(model, CheckpointRecord("gan", {})).sample(6, seed=11)
    loaded = load_model(path)
    after = loaded.sample(6, seed=11)
    assert after.dtype == np.uint8 and after.shape == (6, 28, 28, 1)
    np.testing.assert_array_equal(before, after)
    assert not np.array_equal(after, loaded.sample(6, seed=12))
    np.testing.assert_array_equal(after, load_model(str(path)).sample(6, seed=11))  # a str path works too
    assert loaded.kind == "gan" and loaded.latent_dim == 16 and loaded.image_shape == (28, 28, 1)
    assert (
        loaded.record.name == "tiny-gan"
        and loaded.record.parent == "grandparent"
        and loaded.record.dataset.startswith("synthetic")
    )


def test_gan_checkpoint_keeps_its_discriminator(trained):
    model, path = trained("gan")
    module, record = load_module(path)
    assert record.kind == "gan" and record.config["d_width"] == 8
    theirs = module.discriminator.state_dict()
    ours = model.discriminator.state_dict()
    assert ours.keys() == theirs.keys() and len(ours) > 0
    for key in ours:
        assert torch.equal(ours[key], theirs[key]), key
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(module.discriminator(x), model.eval().discriminator(x), rtol=0, atol=0)


def test_vae_round_trip_decode_and_encode(trained):
    model, path = trained("vae")
    loaded = load_model(path)
    z = loaded.latents(5, seed=3)
    np.testing.assert_array_equal(loaded.decode(z), ImageModel(model, CheckpointRecord("vae", {})).decode(z))
    images = loaded.sample(5, seed=3)
    mu = loaded.encode(images)
    assert mu.shape == (5, loaded.latent_dim)
    np.testing.assert_array_equal(mu, loaded.encode(images[:, :, :, 0]))  # (N, H, W) grey is accepted too


def test_load_by_name_from_the_user_models_folder(trained, tmp_path):
    _, path = trained("gan")
    user_models = tmp_path / "aigc-home" / "models"  # AIGC_HOME comes from the conftest
    user_models.mkdir(parents=True)
    (user_models / "my-gan.safetensors").write_bytes(path.read_bytes())
    assert load_model("my-gan").kind == "gan"
    with pytest.raises(CheckpointError, match="no model named 'nope'.*my-gan"):
        load_model("nope")


def test_record_and_card(trained):
    _, path = trained("vae")
    _, record, meta = read_checkpoint(path)
    assert meta["format"] == "aigc-checkpoint/1"
    assert len(record.weights_sha256) == 64 and record.kind == "vae" and record.config["hidden"] == 32
    card = write_card(path, record)
    assert card.suffix == ".md" and "tiny-vae" in card.read_text() and record.weights_sha256 in card.read_text()


def test_peek_record_reads_the_header_alone_and_answers_none_for_anything_else(trained, tmp_path):
    _, path = trained("vae")
    _, full, _ = read_checkpoint(path)
    peeked = peek_record(path)
    assert peeked is not None and (peeked.kind, peeked.name, peeked.weights_sha256) == (
        full.kind,
        full.name,
        full.weights_sha256,
    )
    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(plain))  # safetensors, but no AIGC record
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\xff" * 64)
    pickled = tmp_path / "weights.safetensors"
    pickled.write_bytes(pickle.dumps({"w": 1}))
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    for other in (plain, garbage, pickled, empty, tmp_path / "missing.safetensors"):
        assert peek_record(other) is None, other


# ---------------------------------------------------------------- files that must be refused


class _Trap:
    """Unpickling this creates a marker file: proof that something ran code from the file."""

    marker: pathlib.Path

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def _trap(marker: pathlib.Path) -> _Trap:
    t = _Trap()
    t.marker = marker
    return t


def _data_offset(payload: bytes) -> int:
    return 8 + struct.unpack("<Q", payload[:8])[0]


def make_bad(kind: str, tmp_path: pathlib.Path, good: pathlib.Path, marker: pathlib.Path) -> pathlib.Path:
    payload = good.read_bytes()
    if kind == "pickle.pkl":
        path = tmp_path / "weights.pkl"
        path.write_bytes(pickle.dumps({"w": _trap(marker)}))
    elif kind == "pickle-named-safetensors":
        path = tmp_path / "weights.safetensors"
        path.write_bytes(pickle.dumps({"w": _trap(marker)}))
    elif kind == "torch-save.pt":
        path = tmp_path / "weights.pt"
        torch.save({"w": torch.zeros(2), "trap": _trap(marker)}, path)
    elif kind == "torch-save-renamed":
        path = tmp_path / "weights.safetensors"
        torch.save({"w": torch.zeros(2), "trap": _trap(marker)}, path)
    elif kind == "empty":
        path = tmp_path / "empty.safetensors"
        path.write_bytes(b"")
    elif kind.startswith("truncated-"):
        path = tmp_path / f"{kind}.safetensors"
        cut = {"truncated-4": 4, "truncated-header": 100, "truncated-data": len(payload) - 10}[kind]
        path.write_bytes(payload[:cut])
    elif kind == "foreign-safetensors":
        path = tmp_path / "foreign.safetensors"
        save_file({"weight": torch.zeros(3, 3)}, str(path), metadata={"format": "pt"})
    elif kind == "config-mismatch":
        path = tmp_path / "mismatch.safetensors"
        tensors, record, _ = read_checkpoint(good)
        record.config = {**record.config, "g_width": 16}
        save_tensors(path, tensors, record)
    elif kind == "unknown-kind":
        path = tmp_path / "unknown.safetensors"
        tensors, record, _ = read_checkpoint(good)
        record.kind = "diffusion"
        save_tensors(path, tensors, record)
    elif kind == "flipped-bytes":
        path = tmp_path / "flipped.safetensors"
        data = bytearray(payload)
        start = _data_offset(payload)
        pos = start + (len(payload) - start) // 2
        data[pos] ^= 0xFF
        path.write_bytes(bytes(data))
    elif kind == "missing":
        path = tmp_path / "does-not-exist.safetensors"
    elif kind == "folder":
        path = tmp_path / "a-folder.safetensors"
        path.mkdir()
    else:
        raise AssertionError(kind)
    return path


REFUSALS = {
    "pickle.pkl": "pickle",
    "pickle-named-safetensors": "pickle",
    "torch-save.pt": "torch.save",
    "torch-save-renamed": "torch.save",
    "empty": "truncated or empty",
    "truncated-4": "truncated",
    "truncated-header": "truncated",
    "truncated-data": "truncated",
    "foreign-safetensors": "not an AIGC Studio checkpoint",
    "config-mismatch": "do not match the config",
    "unknown-kind": "unknown model kind 'diffusion'",
    "flipped-bytes": "do not match the hash",
    "missing": "no such checkpoint file",
    "folder": "is a folder",
}


@pytest.mark.parametrize("kind", sorted(REFUSALS))
def test_bad_files_are_refused_with_the_file_named(kind, tiny_model, tmp_path):
    good = save_model(tmp_path / "good.safetensors", tiny_model("gan"), CheckpointRecord("gan", {}))
    assert load_model(good).kind == "gan"
    marker = tmp_path / "code-ran"
    (tmp_path / "bad").mkdir()
    bad = make_bad(kind, tmp_path / "bad", good, marker)
    for loader in (load_model, load_module, read_checkpoint):
        if loader is read_checkpoint and kind in ("config-mismatch", "unknown-kind"):
            continue  # readable; only rebuilding the model fails
        with pytest.raises(CheckpointError) as err:
            loader(bad)
        assert str(bad) in str(err.value)
        assert REFUSALS[kind] in str(err.value)
    assert not marker.exists(), "a pickle was executed"


def test_the_trap_really_fires_when_unpickled(tmp_path):
    """Guards the test above: the trap object does create the marker when someone does unpickle it."""
    marker = tmp_path / "code-ran"
    pickle.loads(pickle.dumps(_trap(marker)))
    assert marker.exists()


# ---------------------------------------------------------------- atomic save


def _crash(*args, **kwargs):
    raise OSError("simulated crash: disk full")


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.mark.parametrize("where,exc", [("replace", _crash), ("fsync", _crash), ("replace", _interrupt)])
def test_a_crash_mid_save_keeps_the_old_checkpoint(trained, tiny_model, monkeypatch, where, exc):
    model, path = trained("gan")
    old_samples = load_model(path).sample(4, seed=0)
    folder_before = sorted(p.name for p in path.parent.iterdir())
    other = tiny_model("gan", seed=99)
    monkeypatch.setattr(os, where, exc)
    with pytest.raises((OSError, KeyboardInterrupt)):
        save_model(path, other, CheckpointRecord("gan", {}, name="overwrite"))
    monkeypatch.undo()
    assert sorted(p.name for p in path.parent.iterdir()) == folder_before  # no stray temp file
    reloaded = load_model(path)
    assert reloaded.record.name == "tiny-gan"
    np.testing.assert_array_equal(reloaded.sample(4, seed=0), old_samples)


def test_save_creates_folders_and_overwrites_atomically(tmp_path, tiny_model):
    path = tmp_path / "a" / "b" / "m.safetensors"
    save_model(path, tiny_model("vae", seed=1), CheckpointRecord("vae", {}, name="one"))
    save_model(path, tiny_model("vae", seed=2), CheckpointRecord("vae", {}, name="two"))
    assert load_model(path).record.name == "two"
    assert [p.name for p in path.parent.iterdir()] == ["m.safetensors"]


def test_card_shows_histogram_reconstructions_and_prior_when_measured(trained):
    _, path = trained("vae")
    _, record, _ = read_checkpoint(path)
    record.extra["metrics"] = {
        "fid": 30.5,
        "precision": 0.8,
        "recall": 0.7,
        "n": 1000,
        "class_histogram": [100] * 9 + [100],
        "histogram_max_deviation": 0.0,
    }
    record.extra["reconstruction"] = {"recon_n": 2000, "recon_mae": 0.05, "recon_mse": 0.01, "grid": "x.recon.png"}
    record.extra["prior"] = {"weights": [0.5, 0.5], "means": [[0.0], [1.0]], "scale_trils": [[[1.0]], [[1.0]]]}
    text = write_card(path, record).read_text()
    assert "| share | 0.100 | 0.100 |" in text and "largest gap 0.0" in text
    assert "mean absolute pixel error 0.05" in text and "![test images and their reconstructions](x.recon.png)" in text
    assert "2-component Gaussian mixture" in text
    assert "| test images |" not in text  # a report measured before the judge read reconstructions: no table
    record.extra["reconstruction"].update(
        test_class_gap=0.01,
        test_class_shares=[0.1] * 10,
        recon_class_gap=0.05,
        recon_class_shares=[0.15] + [0.05] + [0.1] * 8,
    )
    text = write_card(path, record).read_text()
    assert "test images 0.01, reconstructions 0.05" in text
    assert "| reconstructions | 0.150 | 0.050 | 0.100 |" in text and "| test images | 0.100 | 0.100 |" in text
    record.extra["prior"] = {"weights": [0.5, 0.5], "means": [[0.0], [1.0]], "scale": 0.1}
    assert "near 2 latents chosen in proportion to the reward model" in write_card(path, record).read_text()
    del record.extra["prior"], record.extra["reconstruction"]
    plain = write_card(path, record).read_text()
    assert "Reconstructions" not in plain and "Gaussian mixture" not in plain


def test_a_hidden_pending_file_is_never_a_model(tmp_path, monkeypatch):
    """A fine-tune publishes through `.pending-NAME.safetensors`; one a failed run left was listed and sampled."""
    from aigc.models.pipeline import resolve_model_path

    monkeypatch.chdir(tmp_path)
    (tmp_path / ".pending-left.safetensors").write_bytes(b"x")
    (tmp_path / "kept.safetensors").write_bytes(b"x")
    with pytest.raises(CheckpointError) as err:
        resolve_model_path("nope", models_dir=tmp_path)
    assert "kept" in str(err.value) and ".pending-left" not in str(err.value)
    with pytest.raises(CheckpointError, match="no model named '.pending-left'"):
        resolve_model_path(".pending-left", models_dir=tmp_path)


def test_a_fine_tuned_cards_figures_are_parent_and_child_side_by_side_the_rest_folded():
    from aigc.models.cards import render_card

    metrics = {"mean_reward_before": 0.28281, "mean_reward_after": 0.98694}
    metrics |= {"fid_all_before": 10.49, "fid_all_after": 528.7}
    metrics |= {"reward_heldout_accuracy": 1.0, "tilt_centres": 3061, "kinds_names": ["T-shirt/top", "Trouser"]}
    card = render_card(CheckpointRecord(kind="gan", config={}, name="g-ft1", parent="g", extra={"metrics": metrics}))
    assert "| figure | parent | child |" in card and "| mean reward | 0.2828 | 0.9869 |" in card
    assert "| fid all | 10.49 | 528.7 |" in card
    folded = card.split("<details><summary>Every other figure of the run</summary>")[1]
    assert "| reward heldout accuracy | 1 |" in folded and "| tilt centres | 3061 |" in folded  # words, not a_b_c
    assert "mean reward" not in folded and "</details>" in folded
