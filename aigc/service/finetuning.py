"""Closing the loop: whether a model's ratings are enough, starting, cancelling and watching fine-tune runs,
and comparing a fine-tuned child with its parent.

Split out of `Studio` (aigc.service.studio, the facade the page calls) so that the fine-tuning rules live
in one place. The line a run waits in, the roles and the quotas are passed in on each call rather than
held: a server replaces them after the studio is built (`Studio.use_worker_line`, --auth, quota flags).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from aigc.feedback import features as phi
from aigc.feedback.advice import Assessment, RatingsAdvice, assess
from aigc.feedback.ratings import READINESS, Readiness, usable_ratings
from aigc.service.errors import StudioError
from aigc.service.jobs import JobStatus
from aigc.service.limits import Limits
from aigc.service.queue import already, waiting_where
from aigc.service.registry import ModelRegistry
from aigc.service.roles import Roles
from feedback_db import FeedbackStore

Meter = Callable[[str, "str | None"], None]  # (kind, who): book or give back one unit of a quota


class FinetuneRuns:
    """Fine-tune runs of the registry's models, fed by the store's ratings."""

    def __init__(self, registry: ModelRegistry, store: FeedbackStore, limits: Limits):
        self.registry = registry
        self.store = store
        self.limits = limits
        self._assessed: dict[tuple, Assessment] = {}  # (version, rater, ratings) → reward fit: a fit is seconds
        self._fitting: dict[tuple, threading.Lock] = {}  # the keys being fitted now, one lock each
        self._lock = threading.Lock()

    def warm_up(self, names: list[str]) -> list[str]:
        """Compute once, ahead of the first run, what every run reads: the training set's learned view
        (`finetune_data.warm_training_features`, shared by all models) and a GAN's tilt draws of itself
        (`tilt_draws.warm_parent_draws`, one per GAN). Returns the models it did work for; [] when all was ready.
        """
        from aigc.feedback.finetune_data import warm_training_features
        from aigc.feedback.tilt_draws import warm_parent_draws

        done: list[str] = []
        embedded = False
        for name in names:
            model = self.registry.model(name)
            shared = not embedded and warm_training_features(model)  # once: the Fashion-MNIST models share it
            embedded = embedded or shared
            if warm_parent_draws(model) or shared:
                done.append(name)
        return done

    def ratings_ready(self, name: str, rater: str | None = None) -> Readiness:
        """How many usable ratings this model's lineage has, judged by the one readiness rule (the button's text)."""
        model = self.registry.model(name)
        rated = usable_ratings(self.store, self.registry.version(name).id, model.latent_dim, rater)
        return READINESS.assess([r.score for r in rated])

    def assessment(self, name: str, rater: str | None = None) -> Assessment:
        """The ratings' reward fit and advice, cached per (version, rater, the ratings as they stand):
        asking again without a new rating is free, and visitors who ask for the same ratings at once share one
        fit (seconds at a thousand ratings) instead of each running their own on the same cores."""
        model = self.registry.model(name)
        version = self.registry.version(name)
        rated = usable_ratings(self.store, version.id, model.latent_dim, rater)
        key = (version.id, rater, tuple((r.sample_id, r.score) for r in rated))
        with self._lock:
            done = self._assessed.get(key)
            if done is not None:
                return done
            fitting = self._fitting.setdefault(key, threading.Lock())
        try:
            with fitting:  # the first asker fits; the others wait here, then read its fit
                with self._lock:
                    done = self._assessed.get(key)
                if done is None:
                    done = assess(model, self.store, version.id, rater)
                    with self._lock:
                        if len(self._assessed) > 64:
                            self._assessed.clear()
                        self._assessed[key] = done
        finally:
            with self._lock:
                self._fitting.pop(key, None)
        return done

    def ratings_advice(self, name: str, rater: str | None = None) -> RatingsAdvice:
        """How sure a fine-tune from these ratings would be, and what to warn about before training."""
        return self.assessment(name, rater).advice

    def pick_to_rate(self, name: str, latents: np.ndarray, images: np.ndarray, k: int, rater: str | None) -> np.ndarray:
        """Which k of these candidate images to ask about next (`feedback.selection`): the ones the reward model
        fitted on `rater`'s ratings is least sure of, and the ones unlike anything rated yet."""
        feats = phi.reward_features(self.registry.model(name)).compute(images)
        return self.assessment(name, rater).pick_to_rate(feats, k)

    def start(
        self,
        name: str,
        steps: int | None,
        rater: str | None,
        requester: str | None,
        *,
        roles: Roles,
        queue: Any,
        charge: Meter,
        refund: Meter,
    ) -> JobStatus:
        """Check, meter and queue a run (see `Studio.start_finetune`); a run that never starts costs nothing."""
        steps = self.limits.finetune_steps(steps)
        self.registry.check_visible(roles, name, requester)
        rater = roles.finetune_rater(rater, requester)
        ready = self.ratings_ready(name, rater)
        if not ready.ready:
            raise StudioError(ready.message())
        # ratings that show no taste: refused here, before the quota and the line, not by the run after a wait. The
        # page's advice fitted them already (cached); an API call that did not ask pays that fit here (seconds)
        advice = self.ratings_advice(name, rater)
        if advice.no_taste:
            raise StudioError(advice.text)  # "No taste found in these N ratings: … rate more" (calibration.confidence)
        mine = queue.status(self.registry.model(name).name, requester)  # before the quota: it said "Quota: …"
        if mine.active and getattr(mine, "owner", None) == requester:
            raise already(name, waiting_where(mine))
        charge("finetunes", requester)
        try:
            owner = ["--owner", requester, "--private"] if roles.enforced and requester else []
            return queue.submit(self.registry.model(name).name, steps, rater, owner=requester, extra_args=owner)
        except StudioError:
            refund("finetunes", requester)
            raise

    def cancel(self, name: str, by: str | None, *, roles: Roles, queue: Any, refund: Meter | None = None) -> JobStatus:
        """Cancel `by`'s waiting or running run of `name`; an admin may cancel anyone's.

        A run its owner takes back while it still waits never used the machine, so its start is refunded:
        a person who queued by mistake could otherwise not queue again for an hour. A run that trained
        (even briefly) keeps its charge."""
        name = self.registry.model(name).name  # the name rule, and an unknown name: "unknown model"
        self.registry.check_visible(roles, name, by)
        before = queue.status(name, by)
        status = queue.cancel(name, by, admin=roles.enforced and roles.is_admin(by))
        if refund is not None and by is not None and before.state == "queued" and getattr(before, "owner", None) == by:
            refund("finetunes", by)
        return status

    def status(self, name: str, viewer: str | None, *, roles: Roles, queue: Any) -> JobStatus:
        """The latest run of `name`; a child `viewer` may not see (someone else's, unpublished) is not named."""
        self.registry.check_visible(roles, name, viewer)
        status = queue.status(name, viewer)
        if status.child and roles.enforced and not roles.is_admin(viewer):
            child = self.store.get_version(status.child)
            if child is not None and not roles.can_see(child, viewer):
                return replace(status, child=None, metrics={}, message="someone else's run finished")
        return status

    def compare(
        self, child: str, n: int = 8, seed: int = 0, viewer: str | None = None, *, roles: Roles | None = None
    ) -> tuple[np.ndarray, np.ndarray, dict]:
        """Parent and child on the same seeds, with the child's measured effect and `taste_of`: whose taste it
        measures, in words for `viewer` ("you", "its rater" or "all raters"), who must be allowed to see it."""
        if viewer is not None and roles is not None:
            self.registry.check_visible(roles, child, viewer)
        parent = self.registry.parent_of(child)
        if parent is None:
            raise StudioError(f"{child} has no parent version to compare with")
        n, seed = self.limits.images(n), self.limits.seed(seed)
        model = self.registry.model
        metrics = {**self.registry.version(child).metrics, "taste_of": self.taste_of(child, viewer)}
        return model(parent).sample(n, seed), model(child).sample(n, seed), metrics

    def taste_of(self, child: str, viewer: str | None) -> str:
        """Whose ratings steered `child`, as `viewer` should read the figures: a published child's "share you
        would like" spoke of its rater to every visitor. The CLI (no viewer) and the rater read "you"."""
        version = self.registry.version(child)
        run = next((r for r in self.store.list_runs(version.id) if r.child_version_id == version.id), None)
        rater = (run.config if run is not None else {}).get("rater") or version.owner  # a visitor's run: theirs
        if viewer is None or rater == viewer:
            return "you"
        return "its rater" if rater is not None else "all raters"
