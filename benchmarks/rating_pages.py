"""The pages a simulated person rates: how many images each page shows and from which seed.

One home for the rating schedule that `feedback_loop.py` (through the studio) and `tilt_offline.py`
(without one) must share exactly: a benchmark that rated other pictures would grade another rating set.
"""

from __future__ import annotations

RANDOM_PAGE = 50  # random samples shown per page while a simulated person rates
TO_RATE_PAGE = 10  # 🎯 picks per page: each page chosen knowing the ratings before it


def round_seed(rating_seed: int, round_: int) -> int:
    """The first seed of a round's rated samples, apart from every other round's."""
    return rating_seed + 1000 * round_


def random_pages(n: int, seed: int) -> list[tuple[int, int]]:
    """(count, seed) of each page of n random samples to rate, as `feedback_loop.rate_samples` shows them."""
    return [(min(RANDOM_PAGE, n - done), seed + done) for done in range(0, n, RANDOM_PAGE)]


def to_rate_pages(n: int, seed: int) -> list[tuple[int, int]]:
    """(count, seed) of each page of n 🎯 picks, as `feedback_loop.rate_samples` asks for them."""
    return [(min(TO_RATE_PAGE, n - done), seed + done) for done in range(0, n, TO_RATE_PAGE)]
