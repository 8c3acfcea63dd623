"""One home per rule: the readiness rule, the rated-latents filter, the defaults table, batched inference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aigc.cli.main import build_parser
from aigc.feedback import config
from aigc.feedback.ratings import READINESS, NotEnoughRatings, ReadinessRule, usable_ratings
from aigc.feedback.reward import RewardConfig, fit_reward
from aigc.models.batched import infer, infer_cat
from aigc.service import finetuning
from aigc.service import studio as studio_module
from aigc_ui.common import readiness_line
from aigc_ui.finetune_tab import ready_text


def test_readiness_counts_and_says_what_is_missing():
    r = READINESS.assess([1.0] * 15 + [-1.0] * 2 + [0.0] * 9)
    assert (r.ratings, r.likes, r.dislikes, r.ready) == (17, 15, 2, False)
    assert r.missing == ["3 more rating(s)", "1 more dislike(s)"]
    assert "need 3 more rating(s) and 1 more dislike(s)" in r.message()
    assert r.shortfall == (3, 0, 1)
    assert READINESS.assess([1.0] * 17 + [-1.0] * 3).ready
    with pytest.raises(NotEnoughRatings, match="1 more dislike"):
        r.require()


def test_reward_model_refuses_by_the_same_rule():
    feats = np.random.default_rng(0).standard_normal((8, 3))
    loose = RewardConfig(readiness=ReadinessRule(min_ratings=6, min_each=2))
    assert fit_reward(feats, np.r_[np.ones(4), -np.ones(4)], loose).n_ratings == 8
    with pytest.raises(NotEnoughRatings, match="12 more rating"):
        fit_reward(feats, np.r_[np.ones(4), -np.ones(4)])


def test_studio_and_the_tabs_text_read_the_one_rule(studio, monkeypatch):
    batch = studio.sample("syn-vae", 6, 0, rater="r")
    for i, sid in enumerate(batch.sample_ids):
        studio.rate(sid, 1.0 if i < 3 else -1.0, "r")
    ready = studio.ratings_ready("syn-vae")
    assert (ready.ratings, ready.ready) == (6, False)
    assert "at least 20 ratings, with at least 3 likes and 3 dislikes" in ready_text(studio, "syn-vae", None)
    assert readiness_line(studio, "syn-vae", "r").endswith("needs 14 more ratings.")
    assert "`syn-vae` (3 👍" in readiness_line(studio, "syn-vae", "r")  # a shipped model: its own ratings
    monkeypatch.setattr(studio, "parent_of", lambda name: "syn-vae")  # a child: its lineage's ratings count
    assert "`syn-vae` and the versions it comes from (3 👍" in readiness_line(studio, "syn-vae", "r")
    monkeypatch.undo()
    with pytest.raises(studio_module.StudioError, match="14 more rating"):
        studio.start_finetune("syn-vae")
    monkeypatch.setattr(finetuning, "READINESS", ReadinessRule(min_ratings=5, min_each=2))
    assert studio.ratings_ready("syn-vae").ready
    assert ready_text(studio, "syn-vae", None).startswith("✅ **6**")
    assert readiness_line(studio, "syn-vae", "r").endswith("enough to fine-tune it (🎯 tab).")
    monkeypatch.setattr(finetuning, "READINESS", ReadinessRule(min_ratings=7, min_each=2))
    assert "at least 7 ratings, with at least 2 likes" in ready_text(studio, "syn-vae", None)


def test_usable_ratings_one_filter(studio):
    mine = studio.sample("syn-vae", 4, 0, rater="me").sample_ids
    theirs = studio.sample("syn-vae", 2, 1, rater="them").sample_ids
    for sid, score in zip(mine, (1.0, -1.0, 0.0, 0.5)):
        studio.rate(sid, score, "me")
    for sid in theirs:
        studio.rate(sid, 1.0, "them")
    vid, dim = studio.version("syn-vae").id, studio.model("syn-vae").latent_dim
    assert sorted(r.sample_id for r in usable_ratings(studio.store, vid, dim, "me")) == sorted(
        [mine[0], mine[1], mine[3]]
    )  # the neutral one carries no preference
    assert len(usable_ratings(studio.store, vid, dim)) == 5
    assert usable_ratings(studio.store, vid, dim + 1) == []  # a foreign latent size is never decoded
    assert studio.ratings_ready("syn-vae", "me").ratings == 3


def test_default_steps_come_from_the_one_table(monkeypatch):
    assert config.defaults_text("steps") == "GAN 200, VAE 250"
    assert config.defaults_text("kl_weight") == "VAE 0.1"
    monkeypatch.setitem(config.KIND_DEFAULTS, "gan", {**config.KIND_DEFAULTS["gan"], "steps": 42})
    assert studio_module.Studio.default_steps_text() == "GAN 42, VAE 250"
    finetune_parser = build_parser()._subparsers._group_actions[0].choices["finetune"]
    steps = next(a for a in finetune_parser._actions if a.dest == "steps")
    assert "GAN 42, VAE 250" in steps.help


def test_infer_is_batched_without_autograd_and_matches_one_pass():
    layer = torch.nn.Linear(3, 2)
    x = torch.randn(10, 3)
    sizes = []

    def fn(chunk):
        sizes.append(len(chunk))
        return layer(chunk)

    out = infer_cat(fn, x, batch=4)
    assert sizes == [4, 4, 2]
    assert not out.requires_grad
    torch.testing.assert_close(out, layer(x).detach())
    assert infer_cat(layer, x[:0]).shape == (0, 2)
    assert [len(c) for c in infer(lambda c: c, x, batch=20)] == [10]
    with pytest.raises(ValueError, match="batch"):
        infer(fn, x, batch=0)
