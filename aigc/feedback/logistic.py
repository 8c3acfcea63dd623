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
    # A column that is zero in every row (a feature block the reward model does not read) keeps a zero weight
    # under these updates (no gradient, no coupling), so it is left out of the solves: same answer, and a fit
    # on 28 of 205 columns costs a fraction of one on all of them.
    active = np.flatnonzero(np.any(xb != 0, axis=0) | (np.arange(xb.shape[1]) == xb.shape[1] - 1))
    xa = xb[:, active]
    reg = np.full(len(active), float(l2))
    reg[-1] = 1e-6  # the bias is not shrunk
    wa = _newton(xa, y, np.zeros(len(active)), reg, iters)
    if flip > 0:
        wa = _fisher_scoring(xa, y, wa, reg, flip, iters)
    w = np.zeros(xb.shape[1])
    w[active] = wa
    return w[:-1], float(w[-1])


def _newton(xb: np.ndarray, y: np.ndarray, w: np.ndarray, reg: np.ndarray, iters: int) -> np.ndarray:
    for _ in range(iters):
        p = _sigmoid(xb @ w)
        grad = xb.T @ (p - y) + reg * w
        step = _solve(xb, p * (1 - p), reg, grad)
        w = w - step
        if np.abs(step).max() < 1e-8:
            break
    return w


def _noisy_objective(xb: np.ndarray, y: np.ndarray, w: np.ndarray, reg: np.ndarray, flip: float) -> float:
    q = np.clip(flip + (1 - 2 * flip) * _sigmoid(xb @ w), 1e-12, 1 - 1e-12)
    return float(-(y * np.log(q) + (1 - y) * np.log(1 - q)).sum() + 0.5 * w @ (reg * w))


def _fisher_scoring(
    xb: np.ndarray, y: np.ndarray, w: np.ndarray, reg: np.ndarray, flip: float, iters: int
) -> np.ndarray:
    loss = _noisy_objective(xb, y, w, reg, flip)
    for _ in range(3 * iters):
        s = _sigmoid(xb @ w)
        q = np.clip(flip + (1 - 2 * flip) * s, 1e-12, 1 - 1e-12)
        dq = (1 - 2 * flip) * s * (1 - s)  # dq/dz
        grad = xb.T @ (-(y - q) / (q * (1 - q)) * dq) + reg * w
        step = _solve(xb, dq**2 / (q * (1 - q)), reg, grad)
        for _ in range(20):  # backtracking: the loss is not convex in w
            candidate = w - step
            new_loss = _noisy_objective(xb, y, candidate, reg, flip)
            if new_loss <= loss + 1e-12:
                break
            step = step / 2
        else:
            break
        gain = loss - new_loss
        w, moved, loss = candidate, np.abs(step).max(), new_loss
        # Fisher steps crawl along the flat directions of a non-convex loss: stop once an iteration gains
        # under 1e-11 of the loss (the predictions no longer change), not only when the weights stop moving
        if moved < 1e-8 or gain < 1e-11 * (1 + abs(loss)):
            break
    return w


def _solve(xb: np.ndarray, h: np.ndarray, reg: np.ndarray, g: np.ndarray) -> np.ndarray:
    """(xbᵀ·diag(h)·xb + diag(reg))⁻¹ g: the Newton system, h ≥ 0 the rows' curvatures, reg > 0.

    With fewer rows than columns (100 ratings, 205 features) the Woodbury identity solves it in the rows'
    space, (R + UᵀU)⁻¹ = R⁻¹ − R⁻¹Uᵀ(I + U R⁻¹ Uᵀ)⁻¹U R⁻¹ with U = diag(√h)·xb: an N×N system instead of D×D.
    """
    n, d = xb.shape
    if n >= d:
        return np.linalg.solve((xb * h[:, None]).T @ xb + np.diag(reg), g)
    u = xb * np.sqrt(h)[:, None]
    r_inv_g = g / reg
    u_r_inv = u / reg
    inner = np.eye(n) + u_r_inv @ u.T
    return r_inv_g - (u_r_inv.T @ np.linalg.solve(inner, u @ r_inv_g))


def _sigmoid(t: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(t, -50, 50)))


def predict_proba(x: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    return _sigmoid(np.asarray(x, np.float64) @ w + b)


def logit(x: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    """z = x·w + b, the score σ turns into a probability."""
    return np.asarray(x, np.float64) @ w + b
