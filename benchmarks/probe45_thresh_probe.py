# ruff: noqa
"""tilt_offline with the tilt's sharpening replaced by a threshold on P(liked) (THRESH_MODE env)."""

import os, sys

sys.path.insert(0, __import__("os").path.dirname(__file__))
import numpy as np, torch
import aigc.feedback.latent_prior as lp
from aigc.feedback.reward import effective_sample_size, tilt

MODE = os.environ.get("THRESH_MODE", "thresh")
THRESHOLDS = [float(t) for t in os.environ.get("THRESHOLDS", "0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9").split(",")]


def picks(p, cfg, eligible):
    pe = np.where(eligible, p, 0.0)
    base = tilt(p, 0.5)
    chosen_w = np.where(eligible, base, 0.0)
    chosen_t = 0.0
    for t in THRESHOLDS:
        w = np.where(eligible & (p >= t), base, 0.0)
        if w.sum() <= 0:
            break
        if t != THRESHOLDS[0] and effective_sample_size(w) / len(w) < lp.MIN_ESS_FRACTION:
            break
        chosen_w, chosen_t = w, t
        if float((w * p).sum() / w.sum()) >= lp.SURE_ENOUGH:
            break
    if (
        MODE == "combo"
    ):  # the adaptive β on top of the threshold's survivors? no: β from the default rule, threshold after
        pass
    w = chosen_w / chosen_w.sum()
    drawn = torch.multinomial(
        torch.from_numpy(w), cfg.components, replacement=True, generator=torch.Generator().manual_seed(cfg.seed)
    ).numpy()
    return drawn, w, -chosen_t  # negative: a threshold, not a β


lp.tilt_picks = picks
import tilt_offline

sys.argv = [sys.argv[0]] + sys.argv[1:]
sys.exit(tilt_offline.main())
