"""`beta` used to name three things; old checkpoints (the shipped ones) and old run rows still read."""

from __future__ import annotations

import json
import struct

import pytest

from aigc import load_model
from aigc.cli.main import build_parser
from aigc.models.checkpoint import current_config, read_checkpoint
from aigc_ui.run_figures import figures_markdown


def test_a_vae_written_with_beta_loads_as_kl_weight(tmp_path):
    """Checkpoints written before the rename (the first shipped VAE among them) said "beta"."""
    from dataclasses import asdict

    from aigc.models import VAE, VAEConfig
    from aigc.models.checkpoint import CheckpointRecord, save_tensors

    vae = VAE(VAEConfig(width=8, hidden=16, latent_dim=4, kl_weight=0.5))
    config = asdict(vae.cfg)
    config["beta"] = config.pop("kl_weight")
    path = save_tensors(tmp_path / "old-vae.safetensors", vae.state_dict(), CheckpointRecord("vae", config, name="old"))
    raw = path.read_bytes()
    header = json.loads(raw[8 : 8 + struct.unpack("<Q", raw[:8])[0]])
    assert json.loads(header["__metadata__"]["aigc"])["config"]["beta"] == 0.5  # the file itself says "beta"
    _, record, _ = read_checkpoint(path)
    assert record.config["kl_weight"] == 0.5 and "beta" not in record.config
    assert load_model(str(path)).module.cfg.kl_weight == 0.5


def test_renamed_keys_are_mapped_per_kind():
    assert current_config("vae", {"beta": 0.1, "width": 8}) == {"kl_weight": 0.1, "width": 8}
    assert current_config("vae", {"beta": 0.3, "kl_weight": 0.1}) == {"kl_weight": 0.1}  # the new name wins
    assert current_config("gan", {"beta": 2}) == {"beta": 2}  # only the VAE's key was renamed


@pytest.mark.parametrize("key", ["reward_temperature", "beta"])
def test_fine_tune_figures_read_new_and_old_run_records(key):
    text = figures_markdown({"mean_reward_before": 0.1, "mean_reward_after": 0.5, key: 0.75})
    assert "β = 0.75" in text


@pytest.mark.parametrize("flag", ["--reward-temperature", "--beta"])
def test_cli_reward_temperature_and_its_old_flag(flag):
    args = build_parser().parse_args(["finetune", "m", flag, "0.8"])
    assert args.reward_temperature == 0.8
