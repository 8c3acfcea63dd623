"""L2-regularised logistic regression by Newton's method: the one linear model both the reward
model and the 'my taste' latent direction need. D is small (≤ a few hundred), so an exact
Newton solve is faster and steadier than any SGD, and needs no extra dependency.

`flip` makes it tolerate careless raters (a forward-corrected loss, Natarajan et al. 2013; Patrini et
al. 2017): a thumb is taken to contradict the taste with probability `flip`, so the observed like
rate is q = flip + (1 − 2·flip)·σ(z) and the fit models σ(z), the *true* taste. A plain logistic pulls
its weights towards every flipped thumb, and its probabilities can never leave [flip, 1 − flip]; here a
contradicting thumb costs at most log(1/flip) and σ(z) may still go to 0 or 1.

`pairs` adds blind A/B picks as Bradley–Terry evidence (Bradley & Terry 1952): P(a picked over b) =
σ(z_a − z_b) = σ((x_a − x_b)·w), a logistic row on the difference with no bias. So a pick is one more row
of the same fit, it tells the weights which way the taste runs even between two liked images, and the
forward correction covers careless picks as it covers careless thumbs.
"""

from __future__ import annotations

import numpy as np


def fit_logistic(
    x: np.ndarray,
    y: np.ndarray,
    l2: float = 1.0,
    iters: int = 30,
    flip: float = 0.0,
    pairs: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """(weights (D,), bias) minimising soft-label cross-entropy of q(z) + l2/2·|w|², y in [0, 1].

    flip = 0: q = σ(z), exact Newton. flip > 0: q = flip + (1 − 2·flip)·σ(z), Fisher scoring (Newton with
    the expected Hessian: positive definite, so every step descends), started from the flip = 0 fit.
    pairs: (P, D) differences x_picked − x_other of A/B picks, each a row with label 1 and no bias.
    """
    if not 0.0 <= flip < 0.5:
        raise ValueError(f"flip must be in [0, 0.5), got {flip}")
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    xb = np.hstack([x, np.ones((x.shape[0], 1))])
    if pairs is not None and len(pairs):
        diffs = np.asarray(pairs, np.float64).reshape(len(pairs), x.shape[1])
        xb = np.vstack([xb, np.hstack([diffs, np.zeros((len(diffs), 1))])])
        y = np.concatenate([y, np.ones(len(diffs))])
    w = np.zeros(xb.shape[1])
    reg = l2 * np.eye(xb.shape[1])
    reg[-1, -1] = 1e-6  # the bias is not shrunk
    w = _newton(xb, y, w, reg, iters)
    if flip > 0:
        w = _fisher_scoring(xb, y, w, reg, flip, iters)
    return w[:-1], float(w[-1])


def _newton(xb: np.ndarray, y: np.ndarray, w: np.ndarray, reg: np.ndarray, iters: int) -> np.ndarray:
    for _ in range(iters):
        p = _sigmoid(xb @ w)
        grad = xb.T @ (p - y) + reg @ w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + reg
        step = np.linalg.solve(hess, grad)
        w = w - step
        if np.abs(step).max() < 1e-8:
            break
    return w


def _noisy_objective(xb: np.ndarray, y: np.ndarray, w: np.ndarray, reg: np.ndarray, flip: float) -> float:
    q = np.clip(flip + (1 - 2 * flip) * _sigmoid(xb @ w), 1e-12, 1 - 1e-12)
    return float(-(y * np.log(q) + (1 - y) * np.log(1 - q)).sum() + 0.5 * w @ reg @ w)


def _fisher_scoring(
    xb: np.ndarray, y: np.ndarray, w: np.ndarray, reg: np.ndarray, flip: float, iters: int
) -> np.ndarray:
    loss = _noisy_objective(xb, y, w, reg, flip)
    for _ in range(3 * iters):
        s = _sigmoid(xb @ w)
        q = np.clip(flip + (1 - 2 * flip) * s, 1e-12, 1 - 1e-12)
        dq = (1 - 2 * flip) * s * (1 - s)  # dq/dz
        grad = xb.T @ (-(y - q) / (q * (1 - q)) * dq) + reg @ w
        fisher = (xb * (dq**2 / (q * (1 - q)))[:, None]).T @ xb + reg
        step = np.linalg.solve(fisher, grad)
        for _ in range(20):  # backtracking: the loss is not convex in w
            candidate = w - step
            new_loss = _noisy_objective(xb, y, candidate, reg, flip)
            if new_loss <= loss + 1e-12:
                break
            step = step / 2
        else:
            break
        w, moved, loss = candidate, np.abs(step).max(), new_loss
        if moved < 1e-8:
            break
    return w


def _sigmoid(t: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(t, -50, 50)))


def predict_proba(x: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    return _sigmoid(np.asarray(x, np.float64) @ w + b)


def logit(x: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    """z = x·w + b, the score σ turns into a probability."""
    return np.asarray(x, np.float64) @ w + b
