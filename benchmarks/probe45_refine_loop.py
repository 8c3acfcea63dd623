# ruff: noqa
"""Loop probe: a VAE child's kernel draws filtered by realism (REFINE_KEEP), then a small kernel (REFINE_KERNEL)."""

import os, sys

sys.path.insert(0, __import__("os").path.dirname(__file__))
import numpy as np
import aigc.feedback.finetune as ft

KEEP = float(os.environ.get("REFINE_KEEP", "0.7"))
K2 = float(os.environ.get("REFINE_KERNEL", "0.1"))
original = ft.tilted_prior
BY_CLASS = os.environ.get("REFINE_BY_CLASS", "1") == "1"


def call_classes(model, images):
    import torch
    from aigc.data.datasets import from_uint8
    from aigc.models.checkpoint import load_module
    from aigc.models.pipeline import models_dirs
    from aigc.training.perceptual import inherited

    network, _ = load_module(inherited(model.record, models_dirs(None))[0])
    network.eval()
    with torch.no_grad():
        x = from_uint8(images)
        return torch.cat([network(x[i : i + 1024]).argmax(1) for i in range(0, len(x), 1024)]).numpy()


def refined(model, liked, cfg=None, realism=None):
    record, summary = original(model, liked, cfg, realism)
    if model.kind != "vae" or realism is None or KEEP >= 1:
        return record, summary
    spread = record["scale"] / cfg.kernel
    weights = np.asarray(record["weights"], np.float64)
    means = np.asarray(record["means"], np.float64)
    rng = np.random.default_rng(cfg.seed + 104729)
    m = int(round(cfg.components / KEEP))
    comp = rng.choice(len(means), size=m, p=weights / weights.sum())
    z = means[comp] + record["scale"] * rng.standard_normal((m, means.shape[1]))
    images = model.decode(z.astype(np.float32), portable=False)
    looks = realism(images)
    if BY_CLASS:
        classes = call_classes(model, images)
        keep_mask = np.zeros(len(z), bool)
        for c in np.unique(classes):
            rows = classes == c
            keep_mask |= rows & (looks >= np.quantile(looks[rows], 1 - KEEP))
        kept = z[keep_mask]
    else:
        kept = z[looks >= np.quantile(looks, 1 - KEEP)]
    record = {
        "weights": [round(1.0 / len(kept), 8)] * len(kept),
        "means": [[round(float(v), 5) for v in row] for row in kept],
        "scale": round(K2 * spread, 6),
    }
    summary = {**summary, "tilt_refined": len(kept)}
    return record, summary


ft.tilted_prior = refined
import feedback_loop

sys.exit(feedback_loop.main())
