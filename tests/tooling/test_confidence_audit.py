"""The confidence audit counts, per level and rule, the runs that met their liked-rate target."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import confidence_audit


def test_it_refits_only_one_round_random_rating_runs_of_shipped_models():
    run = {"model": "fashion-gan", "rounds": 1, "to_rate": False, "liked_rate_after": 0.9}
    assert confidence_audit.refittable(run)
    assert not confidence_audit.refittable({**run, "to_rate": True})  # 🎯 chose its ratings with a model
    assert not confidence_audit.refittable({**run, "model": "folder-vae"})  # its rater needs its folder
    assert not confidence_audit.refittable({**run, "rounds": 2})
    assert not confidence_audit.refittable({"model": "fashion-gan", "error": "not enough ratings"})
    assert confidence_audit.class_set("classes-039") == (0, 3, 9)


def test_the_summary_counts_each_rule_apart_and_checks_the_refits_reproduce_the_runs():
    def row(reported, before, selection, today, met, refused=False):
        return {
            "reported": reported,
            "before": before,
            "selection": selection,
            "today": today,
            "no_taste": refused,
            "liked_rate": 0.9 if met else 0.5,
            "liked_rate_met": met,
        }

    rows = [
        row("high", "high", "high", "high", True),
        row("high", "high", "medium", "medium", False),
        row("low", "medium", "medium", "medium", True, refused=True),
    ]
    out = confidence_audit.summary(rows)
    assert out["runs"] == 3 and out["reproduced"] == 2  # a run reported the rule of its day, whichever
    assert out["no_taste"] == {"runs": 1, "liked_rate_met": 1}
    assert out["selection_high"] == {"runs": 1, "liked_rate_met": 1, "mean_liked_rate": 0.9}
    assert out["before_high"] == {"runs": 2, "liked_rate_met": 1, "mean_liked_rate": 0.7}
    assert out["today_high"] == {"runs": 1, "liked_rate_met": 1, "mean_liked_rate": 0.9}
    assert out["today_medium"]["runs"] == 2 and out["today_low"] == {
        "runs": 0,
        "liked_rate_met": 0,
        "mean_liked_rate": None,
    }
