"""The cross-judged feedback benchmark changes the simulated person's eyes and the measuring tape, not the loop."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import feedback_cross_judge  # noqa: E402
import feedback_loop  # noqa: E402

from aigc.data.datasets import from_uint8  # noqa: E402
from aigc.evaluation import metrics  # noqa: E402
from aigc.evaluation.raters import TasteRater  # noqa: E402
from aigc.models.classifier import Classifier, ClassifierConfig  # noqa: E402


def test_the_rater_and_the_figures_see_with_the_second_judge_and_the_loop_does_not(monkeypatch):
    for module, names in ((metrics, ("classify", "classify_features")), (feedback_loop, ("judge", "run"))):
        for name in names:  # install() rewires these; monkeypatch puts them back after the test
            monkeypatch.setattr(module, name, getattr(module, name))
    monkeypatch.setattr(feedback_loop, "fashion_reference", feedback_loop.fashion_reference)
    torch.manual_seed(0)
    judge = Classifier(ClassifierConfig(width=4, embed_dim=8)).eval()
    shipped_features = metrics.classify_features
    seen: dict = {}

    def measure(model, rater, ref, n, seed):  # stands for feedback_loop.judge: reads classify_features when called
        seen["called_by"] = metrics.classify_features(torch.zeros(3, 8)).tolist()
        return {"liked_rate": 0.5}

    monkeypatch.setattr(feedback_loop, "judge", measure)
    monkeypatch.setattr(feedback_loop, "run", lambda *a, **k: {"taste": "bright"})
    feedback_cross_judge.install(judge)

    images = np.random.default_rng(0).integers(0, 256, (40, 28, 28, 1), dtype=np.uint8)
    with torch.inference_mode():
        expected = judge(from_uint8(images)).argmax(1)
    assert torch.equal(metrics.classify(images), expected)  # the rater's class calls: the second judge's
    liked_class = int(expected[0])
    rater = TasteRater("one-class", "class", classes=(liked_class,))
    assert np.array_equal(rater.likes(images), (expected == liked_class).numpy())

    assert feedback_loop.judge(None, rater, None, 1, 0) == {"liked_rate": 0.5}
    with torch.inference_mode():
        assert seen["called_by"] == judge.head(torch.zeros(3, 8)).argmax(1).tolist()  # histogram: its head
    assert metrics.classify_features is shipped_features  # and only while measuring: the loop's report keeps its own
    assert feedback_loop.run() == {"taste": "bright", "judge": "cross"}  # each JSON line says who judged
