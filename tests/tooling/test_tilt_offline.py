"""The offline tilt benchmark's ablation blanks exactly the named pixel statistic, and its summary counts honestly."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import tilt_offline  # noqa: E402

from aigc.feedback.appearance import APPEARANCE_BLOCKS, STAT_NAMES, appearance  # noqa: E402


def test_without_names_the_stat_columns_of_the_reward_features_and_refuses_unknown_ones():
    blocks = [("learned", 8), ("kinds", 10), *APPEARANCE_BLOCKS]
    cols = tilt_offline.blanked_columns(blocks, STAT_NAMES, ["ink_roughness", "brightness"])
    assert cols == [18 + STAT_NAMES.index("ink_roughness"), 18]
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    look = appearance(x).numpy()
    feats = np.concatenate([np.zeros((4, 18)), look], axis=1)
    assert feats[:, cols[0]] == pytest.approx(look[:, STAT_NAMES.index("ink_roughness")])
    assert feats[:, cols[1]] == pytest.approx(look[:, 0])
    with pytest.raises(SystemExit, match="unknown pixel statistics"):
        tilt_offline.blanked_columns(blocks, STAT_NAMES, ["sparkle"])
    assert tilt_offline.blanked_columns([("learned", 8)], STAT_NAMES, ["brightness"]) == []  # no stats block


def test_the_summary_counts_targets_met_and_leaves_failed_fits_out_of_the_means():
    rows = [
        {"liked_rate": 0.95, "recall_liked": 0.7, "precision_all": 0.8, "liked_rate_met": True, "recall_met": True},
        {"liked_rate": 0.85, "recall_liked": 0.5, "precision_all": 0.7, "liked_rate_met": False, "recall_met": False},
        {"error": "only likes"},
    ]
    out = tilt_offline.summary(rows, "")
    assert (out["runs"], out["failed"], out["both_met"], out["liked_rate_met"]) == (3, 1, 1, 1)
    assert out["mean_liked_rate"] == pytest.approx(0.9)
    assert (out["precision_met"], out["all_three_met"]) == (0, 0)  # lines before the precision target was kept
    rows[0]["precision_met"], rows[1]["precision_met"] = True, True
    out = tilt_offline.summary(rows, "")
    assert (out["precision_met"], out["all_three_met"]) == (2, 1)
    assert (out["mean_fid_liked"], out["fid_met"], out["all_four_met"]) == (None, 0, 0)  # lines before FID
    rows[0] |= {"fid_liked": 20.0, "fid_met": True}
    rows[1] |= {"fid_liked": 40.0, "fid_met": True}
    out = tilt_offline.summary(rows, "")
    assert (out["mean_fid_liked"], out["fid_met"], out["all_four_met"]) == (30.0, 2, 1)


def test_without_a_realism_filter_every_draw_may_be_picked():
    images = np.zeros((7, 28, 28, 1), np.uint8)
    assert tilt_offline.realism_eligible(None, images, "off", 0.5).all()


def test_the_offline_benchmark_rates_the_pages_the_loop_shows():
    import rating_pages

    assert rating_pages.random_pages(100, rating_pages.round_seed(0, 1)) == [(50, 1000), (50, 1050)]
    assert rating_pages.random_pages(120, 7) == [(50, 7), (50, 57), (20, 107)]
    assert rating_pages.round_seed(100000, 2) == 102000
