# ruff: noqa
"""Loop probe: a kernel mixture's (the tilt's) component choice in ImageModel's sampling from a golden-ratio
sequence (prefix-stable, stratified) instead of iid uniforms; training's prior draws and fitted Gaussian
mixtures untouched."""

import sys

sys.path.insert(0, __import__("os").path.dirname(__file__))
import numpy as np
import aigc.models.pipeline as pl
from aigc.models.latent import seeded_latents, seeded_uniform

PHI = (np.sqrt(5.0) - 1.0) / 2.0


def candidates(self, n, seed, truncation=None):
    eps = seeded_latents(seed, n, self.latent_dim, truncation).numpy()
    if self.prior is None:
        return eps
    u = seeded_uniform(seed, n)
    if self.prior.chols is None and n:
        u = np.mod(u[0] + np.arange(n) * PHI, 1.0)
    return self.prior.sample(eps, u)


pl.ImageModel._candidates = candidates
import feedback_loop

sys.exit(feedback_loop.main())
