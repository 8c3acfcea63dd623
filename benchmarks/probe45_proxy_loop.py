# ruff: noqa
"""Loop probe: log a VAE child's realism proxy (share of its kernel draws inside a real image's ball in the
perceptual network) beside its parent's, without changing the child (REFINE_KEEP=1)."""

import json, os, sys

sys.path.insert(0, os.path.dirname(__file__))
import numpy as np
import aigc.feedback.finetune as ft
from aigc.models.pipeline import load_model

LOG = os.environ.get("PROXY_LOG", "probe45_proxy.log")
original = ft.tilted_prior
parents = {}


def logged(model, liked, cfg=None, realism=None):
    record, summary = original(model, liked, cfg, realism)
    if model.kind != "vae" or realism is None:
        return record, summary
    name = model.record.parent
    if name not in parents:
        parent = load_model(name)
        parents[name] = float((realism(parent.sample(2000, 4242)) >= 1).mean())
    weights = np.asarray(record["weights"], np.float64)
    means = np.asarray(record["means"], np.float64)
    rng = np.random.default_rng(cfg.seed + 104729)
    comp = rng.choice(len(means), size=2000, p=weights / weights.sum())
    z = means[comp] + record["scale"] * rng.standard_normal((2000, means.shape[1]))
    looks = realism(model.decode(z.astype(np.float32), portable=False))
    centres = realism(model.decode(means[comp].astype(np.float32), portable=False))
    with open(LOG, "a") as f:
        f.write(
            json.dumps(
                {
                    "child": model.record.name,
                    "proxy_child": float((looks >= 1).mean()),
                    "proxy_centres": float((centres >= 1).mean()),
                    "proxy_parent": parents[name],
                    "mean_realism_child": float(np.mean(looks)),
                }
            )
            + "\n"
        )
    return record, summary


ft.tilted_prior = logged
import feedback_loop

sys.exit(feedback_loop.main())
