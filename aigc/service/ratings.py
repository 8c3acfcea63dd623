"""What people say about images: ratings, their history and statistics, and blind A/B comparisons.

Split out of `Studio` (aigc.service.studio, the facade the page calls) so that everything that reads or
writes feedback rows lives in one place. Ids and scores a visitor sends are checked against `Limits`;
the database's refusals become `StudioError`s (one line on the page). Images shown for rating go
through `LatentSpace.show`, so they are recorded as Samples like any other.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from aigc.feedback.compare import binomial_p_value
from aigc.service.errors import StudioError
from aigc.service.latents import LatentSpace
from aigc.service.limits import Limits
from aigc.service.registry import ModelRegistry, retired_label
from aigc.service.roles import Roles
from feedback_db import ActivityItem, FeedbackError, FeedbackStore, SampleInfo

# samples whose (seed, index) draw them again: a seed's batch ("sample"), and a blind pair (index 0 of the seed's
# batch, on both models); picks to rate, explorer moves, interpolations and uploads are stored with seed 0
SEEDED_SOURCES = frozenset({"sample", "compare"})
GREY = np.full((28, 28, 1), 128, np.uint8)  # a card for a sample whose version the database no longer has


class Ratings:
    """Ratings, history and A/B pairs over one feedback store."""

    def __init__(
        self,
        registry: ModelRegistry,
        store: FeedbackStore,
        limits: Limits,
        latents: LatentSpace,
        meter: tuple[Callable, Callable] | None = None,
    ):
        self.registry = registry
        self.store = store
        self.limits = limits
        self.latents = latents
        # (charge, refund) of the studio's quotas: ratings are metered, as images are (one address rated 1,200
        # samples in 49 s, each a database write every visitor's writes wait behind)
        nothing: Callable[..., None] = lambda *a: None  # noqa: E731 - no quotas: the CLI's and the tests' studios
        self.charge: Callable[..., None] = meter[0] if meter else nothing
        self.refund: Callable[..., None] = meter[1] if meter else nothing
        self._exports: dict[str, tuple[float, int]] = {}  # a person's key → (when, rows) of their last ratings file
        self._export_lock = threading.Lock()

    def rate(self, sample_id: int, score: float, rater: str, roles: Roles | None = None):
        """A rating of any sample by its id, but not of one from a version `rater` may not see (someone else's
        unpublished fine-tune): their History would then name it. Only with roles: without them all is everyone's."""
        try:
            sample_id, score = self.limits.sample_id(sample_id), self.limits.score(score)
            if roles is not None and roles.enforced and not roles.is_admin(rater):
                version = self.store.get_version(self.store.get_sample(sample_id).version_id)
                if version is None or not roles.can_see(version, rater):
                    raise StudioError(f"sample {sample_id} does not exist")  # the words for one that does not
            self.charge("ratings", rater, 1)
            try:
                return self.store.rate(sample_id, score, rater)
            except FeedbackError:
                self.refund("ratings", rater, 1)  # nothing stored: nothing spent
                raise
        except FeedbackError as exc:
            raise StudioError(str(exc)) from exc

    def rate_latent(self, name: str, z: np.ndarray, score: float, rater: str, source: str = "explore") -> int:
        """Rate an image from the explorer: it becomes a Sample, then gets the rating."""
        score = self.limits.score(score)  # before recording: a refused rating leaves no orphan sample
        sample_id = self.latents.show(name, z, source, rater=rater)[1][0]
        self.rate(sample_id, score, rater)
        return sample_id

    def _stored(self, roles: Roles, sample_ids: list[int], viewer: str | None) -> list[SampleInfo]:
        """Stored samples in one read, in the order asked; only `viewer`'s own (and any for admins, or viewer None)."""
        try:
            infos = self.store.get_samples([self.limits.sample_id(i) for i in sample_ids])
        except FeedbackError as exc:
            raise StudioError(str(exc)) from exc
        for info in infos:
            if not roles.can_read_sample(info.rater_id, viewer):
                raise StudioError(f"sample {info.id} is not one of yours")
        return infos

    def samples_info(
        self, roles: Roles, sample_ids: list[int], viewer: str | None = None
    ) -> list[tuple[str, np.ndarray]]:
        """(model name, latent) of many stored samples in one read, in the order asked (History's thumbnails).

        A latent is shown only to the person its sample was shown to (and admins; viewer None: the
        studio itself): an uploaded photo's latent is as private as the photo. A retired version's
        samples carry its retired name (`fashion-gan@98dd59a4`), which no model serves.
        """
        return [
            (self.registry.version_name(info.version_id), info.latent)
            for info in self._stored(roles, sample_ids, viewer)
        ]

    def sample_images(
        self, roles: Roles, sample_ids: list[int], viewer: str | None = None
    ) -> list[tuple[str, np.ndarray]]:
        """(model, image) per stored sample: one read for all, one forward pass per model (History's cards).

        A sample of a retired version (its shipped weights were replaced) is labelled so and shown as a
        grey card: decoding it with the weights that replaced them would show a picture nobody saw.
        """
        infos = self._stored(roles, sample_ids, None)
        out: list = [None] * len(infos)
        by_version: dict[int, list[int]] = {}
        for i, info in enumerate(infos):
            if not roles.can_read_sample(info.rater_id, viewer):  # someone else's picture, rated by its id: a card
                version = self.store.get_version(info.version_id)  # that says so (it emptied the whole History)
                out[i] = ("someone else's picture", self.registry.blank_image(version) if version else GREY)
                continue
            by_version.setdefault(info.version_id, []).append(i)
        for version_id, where in by_version.items():
            retired = self.registry.retired(version_id)
            if retired is not None:
                label, blank = retired_label(retired), self.registry.blank_image(retired)
                for i in where:
                    out[i] = (label, blank)
                continue
            name = self.registry.version_name(version_id)
            images = self.latents.decode_many(name, np.stack([infos[i].latent for i in where]))
            for i, image in zip(where, images):
                out[i] = (name, image)
        return out

    def retired_label(self, version_id: int) -> str | None:
        """`fashion-gan@98dd59a4 (retired: a newer shipped file replaced it)` for a retired version, else None."""
        retired = self.registry.retired(version_id)
        return None if retired is None else retired_label(retired)

    def history(self, rater: str, limit: int = 20, rated_only: bool = False) -> list[ActivityItem]:
        """`rater`'s recent samples (`rated_only`: those they rated), newest first; a seed and index only where
        they draw the picture again."""
        items = self.store.recent_activity(rater, self.limits.history(limit), rated_only)
        return [a if a.source in SEEDED_SOURCES else replace(a, seed=None, index=None) for a in items]

    def export_mine(self, rater: str, folder: Path) -> tuple[Path, int] | None:
        """`rater`'s most recent ratings (`Limits.max_export_ratings`) as a CSV file in `folder`: (path, rows), or
        None when they have none. The export's columns; a latent only of samples shown to them.

        Bounded, since any visitor can ask: one file per person in `folder`, replaced in place, and a new one at
        most every `Limits.export_every_s` (until then the last one is handed out again; it says how many rows).
        """
        key = hashlib.sha256(rater.encode()).hexdigest()[:32]
        path = folder / key / "my-ratings.csv"
        with self._export_lock:
            last = self._exports.get(key)
            when, rows = last if last is not None else (float("-inf"), 0)
            if rows and time.monotonic() - when < self.limits.export_every_s and path.exists():
                return path, rows  # (a file of no rows cost nothing: it is never held back)
            path.parent.mkdir(parents=True, exist_ok=True)
            rows = self.store.export("csv", path, rater_id=rater, newest=self.limits.max_export_ratings)
            self._exports[key] = (time.monotonic(), rows)
            if not rows:
                path.unlink(missing_ok=True)  # a header alone is no file to keep
        return (path, rows) if rows else None

    def rated_by(self, name: str, latents: np.ndarray, rater: str) -> list[tuple[int, float] | None]:
        """Per latent: (sample id, score) of this rater's rating of the same picture of this version, if any.

        Why: the same seed shown again (a permalink, a reload) is new Sample rows; the page shows the
        earlier rating on such a card and rates that earlier sample again, so nothing is duplicated.
        """
        version_id = self.registry.version(name).id
        mine = {
            r.latent.astype(np.float32).tobytes(): (r.sample_id, r.score)
            for r in self.store.ratings_for_lineage(version_id, include_ancestors=False)
            if r.rater_id == rater and r.version_id == version_id
        }
        return [mine.get(np.asarray(z, np.float32).tobytes()) for z in latents]

    def stats(self):
        return self.store.stats_per_version()

    def ratings_over_time(self, name: str | None = None):
        return self.store.ratings_over_time(self.registry.version(name).id if name else None)

    # ------------------------------------------------------------ blind A/B: a child against its parent

    def ab_pair(self, child: str, seed: int, rater: str) -> dict:
        """One blind pair: parent and child on the same seed, left/right at random, both recorded. Each side is
        its own model's draw of the seed, as each would show it: a child samples from its own latent prior (the
        tilt towards the taste), and the parent decoding the child's latent showed the taste on both sides."""
        parent = self.registry.parent_of(child)
        if parent is None:
            raise StudioError(f"{child} has no parent version to compare with")
        shown = {
            m: self.latents.show(m, self.latents.latent_of(m, seed), "compare", rater=rater, seed=seed)
            for m in (parent, child)
        }
        child_left = bool(np.random.default_rng().integers(2))  # shown: m → (images, ids)
        left, right = (child, parent) if child_left else (parent, child)
        return {
            "left_image": shown[left][0][0],
            "right_image": shown[right][0][0],
            "left_id": shown[left][1][0],
            "right_id": shown[right][1][0],
            "child_id": shown[child][1][0],
        }

    def ab_pick(self, left_id: int, right_id: int, picked_id: int | None, rater: str) -> None:
        try:
            ids = self.limits.sample_id(left_id), self.limits.sample_id(right_id)
            picked = None if picked_id is None else self.limits.sample_id(picked_id)
            self.store.record_comparison(*ids, picked, rater)
        except FeedbackError as exc:
            raise StudioError(str(exc)) from exc

    def ab_stats(self, child: str) -> dict:
        parent = self.registry.parent_of(child)
        if parent is None:
            raise StudioError(f"{child} has no parent version to compare with")
        st = self.store.comparison_stats(self.registry.version(parent).id, self.registry.version(child).id)
        return {
            "wins": st.wins,
            "losses": st.losses,
            "ties": st.ties,
            "win_rate": st.win_rate,
            "p_value": binomial_p_value(st.wins, st.losses),
        }
