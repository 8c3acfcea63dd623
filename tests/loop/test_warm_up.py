"""The server's warm-up: the first fine-tune on a fresh machine must not embed the training set itself."""

from __future__ import annotations

import numpy as np

from aigc import load_model
from aigc.evaluation import metrics
from aigc.feedback import features as phi
from aigc.feedback.config import FinetuneConfig
from aigc.feedback.finetune_data import training_set, warm_training_features
from tests.engine.test_data_idx import write_split


def test_warm_up_embeds_the_training_and_test_sets_once_and_runs_read_them(tmp_path, monkeypatch, models_dir):
    write_split(tmp_path / "data", "train", n=120)  # a stand-in Fashion-MNIST: the judge embeds 120, not 60,000
    write_split(tmp_path / "data", "test", n=40)  # what a run's report measures the child against
    monkeypatch.setenv("AIGC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AIGC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("AIGC_NO_DOWNLOAD", "1")
    metrics.real_features.cache_clear()
    gan = load_model("fashion-gan")
    assert metrics.cached_real_features("train") is None and metrics.cached_real_features("test") is None

    assert warm_training_features(gan) is True
    cached, labels = metrics.cached_real_features("train")
    assert cached.shape == (120, 128) and labels.tolist() == [i % 10 for i in range(120)]
    assert metrics.cached_real_features("test")[0].shape == (40, 128)  # the report's reference, too
    assert warm_training_features(gan) is False  # once: the cache is there
    assert warm_training_features(load_model("syn-gan", models_dir=models_dir)) is False  # no judge: nothing to do

    # a run now reads the cache instead of embedding: poison the judge, and the run's view must not change
    monkeypatch.setattr(phi, "compute", lambda *a, **k: (_ for _ in ()).throw(AssertionError("embedded again")))
    images, view, name = training_set(gan, FinetuneConfig(max_examples=50), phi.feature_fn(gan)[0])
    assert name == "fashion-mnist:train" and view.shape == (50, 128) and len(images) == 50
    table = cached.double().numpy()
    assert all(np.abs(table - row).sum(1).min() == 0 for row in view)  # each row is a cached one
    metrics.real_features.cache_clear()
