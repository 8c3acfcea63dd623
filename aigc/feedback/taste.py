"""✨ My taste without training: a direction in latent space from one person's ratings (InterFaceGAN).

It lives with the feedback loop, not the latent-space geometry, because it is a fit to ratings.
"""

from __future__ import annotations

import numpy as np

from aigc.feedback.logistic import fit_logistic


def taste_direction(latents: np.ndarray, scores: np.ndarray, l2: float = 1.0) -> np.ndarray | None:
    """Unit normal of a logistic separator between liked (>0) and disliked (<0) latents (InterFaceGAN).

    None when the ratings are one-sided: there is no boundary to be normal to.
    """
    x = np.asarray(latents, np.float64)
    y = (np.asarray(scores) > 0).astype(np.float64)
    if x.ndim != 2 or y.min() == y.max():
        return None
    normal, _ = fit_logistic(x, y, l2)
    norm = np.linalg.norm(normal)
    return None if norm == 0 else (normal / norm).astype(np.float32)
