"""Blind A/B between a parent and its child, and the statistics of the picks."""

from __future__ import annotations

from math import comb


def binomial_p_value(wins: int, losses: int) -> float:
    """Two-sided exact binomial test of wins vs losses against a fair coin (ties left out)."""
    n = wins + losses
    if n == 0:
        return 1.0
    k = max(wins, losses)
    tail = sum(comb(n, i) for i in range(k, n + 1)) / 2**n
    return min(1.0, 2 * tail)
