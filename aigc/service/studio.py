"""The service facade: everything the page, the CLI and tests do goes through a `Studio`.

It owns the loaded models (never per-session state: Gradio deep-copies State), the feedback
store, and the serving thread budget. Every image that reaches a person is recorded as a
`Sample` (with its latent and model version) before it is returned. Nothing here imports
Gradio; nothing above it imports torch.

`Studio` is the one door; the work is done by the parts it composes, one concern each:
`registry` (aigc.service.registry: models, versions, visibility, the models-list cache),
`latents` (aigc.service.latents: sampling, decoding, encoding, paths, breeding, axes, taste),
`ratings` (aigc.service.ratings: ratings, history, A/B) and `runs` (aigc.service.finetuning:
readiness, starting, cancelling, watching and comparing fine-tunes). What a server replaces after
building a studio (`roles`, `quotas`, `queue`) stays here and is handed to the parts per call.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aigc import paths
from aigc.feedback.advice import RatingsAdvice
from aigc.feedback.config import defaults_text
from aigc.feedback.finetune import recover
from aigc.feedback.ratings import Readiness
from aigc.feedback.selection import POOL_PER_PICK, pool_size  # the page and the API name them
from aigc.models.pipeline import ImageModel
from aigc.service.axes import LatentAxes
from aigc.service.disk_floor import DiskFloor, add_disk_floor_flag  # noqa: F401 - the flag: for the server
from aigc.service.errors import StudioError, announce  # announce: the server's lines for its owner
from aigc.service.finetuning import FinetuneRuns
from aigc.service.jobs import FinetuneJobs, JobStatus
from aigc.service.latents import Encoded, LatentSpace, SampleBatch
from aigc.service.limits import RULES, SEED_RULE, Limits, holds_bool  # the page shows the rules, checks bools
from aigc.service.model_health import BadCheckpoint
from aigc.service.queue import FinetuneQueue, QueueSettings  # QueueSettings: for the page
from aigc.service.quotas import (  # noqa: F401 - re-exported for the page, which imports only this module
    QuotaExceeded,
    Quotas,
    QuotaSettings,
    Requester,
    add_quota_flags,
    address_key,
    quota_settings,
)
from aigc.service.ratings import Ratings
from aigc.service.registry import (  # noqa: F401 - MODELS_MAX_AGE_S, RENAME_ADVICE: still importable from here
    MODELS_MAX_AGE_S,
    RENAME_ADVICE,
    ModelRegistry,
    ModelSummary,
)
from aigc.service.roles import Roles
from feedback_db import FeedbackStore, VersionInfo

MAX_BATCH = Limits.max_images

__all__ = ["MAX_BATCH", "POOL_PER_PICK", "RULES", "SEED_RULE", "Encoded", "ModelSummary", "SampleBatch", "Studio",
           "StudioError", "announce", "holds_bool", "pool_size"]  # fmt: skip


class Studio:
    """Loaded models + the feedback store. Thread-safe; share one per process."""

    def __init__(
        self,
        store: FeedbackStore,
        models_dir: str | os.PathLike | None = None,
        device: str | None = None,
        jobs: FinetuneJobs | None = None,
        limits: Limits | None = None,
    ):
        """Wire the parts together; touches neither the process nor the disk (see `open` for that). The studio
        owns `store` (and `jobs`) from here on: `close` closes them. Models are found lazily, on the first
        `model`/`models` call, so a studio built this way is already usable."""
        self.limits = limits or Limits()  # every visitor-controlled quantity is checked against these
        self.device = device
        self.models_dir = Path(models_dir) if models_dir else None
        self.store = store
        self.registry = ModelRegistry(store, self.models_dir, device, self.limits)
        self.latents = LatentSpace(self.registry, store, self.limits, admit=self._admit)
        self.quotas = Quotas()  # a server replaces it with its flags' settings
        refund = lambda *a: self.quotas.refund(*a)  # noqa: E731 - read at call time: a server replaces the quotas
        self.ratings = Ratings(self.registry, store, self.limits, self.latents, (self.charge, refund))
        self.runs = FinetuneRuns(self.registry, store, self.limits)
        self.health = self.registry.health  # bad files: logged once, never re-read until they change
        self.disk_floor = DiskFloor.where_written(paths.models_dir(self.models_dir), store.url)  # serve sets it
        self.roles = Roles()  # a server with --auth replaces it (aigc.service.roles)
        self.jobs = jobs or FinetuneJobs(
            self.store.url,
            str(self.models_dir) if self.models_dir else None,
            on_done=lambda status: self.refresh(),
            on_registered=lambda status: self.refresh(),  # the child is listed at once, not when the process exits
        )
        # runs wait in line (aigc.service.queue); a shared PostgreSQL may hand them to `aigc worker`s instead
        self.queue: FinetuneQueue | Any = FinetuneQueue(self.jobs, self.store)

    @classmethod
    def open(
        cls,
        db_url: str | None = None,
        models_dir: str | os.PathLike | None = None,
        device: str | None = None,
        threads: int | None = 1,
    ) -> Studio:
        """Open the studio a server runs: everything with an effect beyond this object happens here, once.

        Sets torch's process-wide thread count (serving's own budget: keeps sliders live while a run
        trains in its own process), opens (and migrates) the database, marks runs a killed process left
        'running' as failed, finishes or discards the files such a run left, and registers every model
        found on disk as a version.
        """
        if threads:
            torch.set_num_threads(threads)
        studio = cls(FeedbackStore(paths.database_url(db_url)), models_dir, device)
        try:
            studio.store.fail_stale_runs()
            recover(studio.store, paths.models_dir(studio.models_dir))
            studio.refresh()
        except BaseException:
            studio.close()
            raise
        return studio

    def close(self) -> None:
        self.jobs.stop_all()
        getattr(self.queue, "close", lambda: None)()
        self.store.close()

    def __enter__(self) -> Studio:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @staticmethod
    def database_url(url: str | None = None) -> str:
        """The database `open(url)` uses: `url`, else $AIGC_DB_URL, else the home's SQLite file (aigc.paths)."""
        return paths.database_url(url)

    @staticmethod
    def default_steps_text() -> str:
        """The kinds' default fine-tune steps in words ('GAN 600, VAE 3000'), from the one defaults table."""
        return defaults_text("steps")

    def charge(self, kind: str, who: str | None, amount: int = 1) -> None:
        """Charge `who`'s quotas if the disk has room (disk_floor; ratings always count), else StudioError."""
        if kind != "ratings":  # a few bytes about an image already stored
            self.disk_floor.check()
        try:
            self.quotas.charge(kind, who, amount)
        except QuotaExceeded as exc:
            raise StudioError(str(exc)) from None

    def _admit(self, name: str, rater: str | None, images: int) -> None:
        """Before any image is made for `rater`: the model must be one they may see, and the images are charged."""
        self.check_visible(name, rater)
        self.charge("samples", rater, images)

    # ------------------------------------------------------------ models and versions (aigc.service.registry)

    @property
    def models_max_age_s(self) -> float:
        """The longest `models()` may serve its cached list without looking at the database."""
        return self.registry.max_age_s

    @models_max_age_s.setter
    def models_max_age_s(self, seconds: float) -> None:
        self.registry.max_age_s = seconds

    def refresh(self) -> list[str]:
        """Discover checkpoints and make sure each GAN/VAE is a registered version; returns names."""
        return self.registry.refresh()

    def checkpoint_problems(self) -> list[BadCheckpoint]:
        """Files that are not served (what is wrong, what to do, what is served instead): the models tab lists them."""
        return self.registry.checkpoint_problems()

    def model(self, name: str) -> ImageModel:
        return self.registry.model(name)

    def version(self, name: str) -> VersionInfo:
        return self.registry.version(name)

    def kind(self, name: str) -> str:
        """'gan' or 'vae': what the page needs to know of a model without holding the model itself."""
        return self.model(name).kind

    def models(self, viewer: str | None = None) -> list[ModelSummary]:
        """Every version `viewer` may see (roles: published ones, their own, all for admins; None: all).

        Served from a cache: no disk scan or database read unless something changed (aigc.service.registry).
        """
        return self.registry.models(self.roles, viewer)

    def check_visible(self, name: str, viewer: str | None) -> None:
        """Refuse a version `viewer` may not see, in the words used for one that does not exist."""
        self.registry.check_visible(self.roles, name, viewer)

    def publish(self, name: str, by: str | None, published: bool = True) -> VersionInfo:
        """An admin shows a version to every visitor (or takes it back to its owner and admins)."""
        self.roles.require_admin(by, "publish a version")
        return self.registry.publish(name, published)

    def add_version(self, path: Path) -> VersionInfo:
        """Register a checkpoint written by a fine-tuning run (or another replica)."""
        return self.registry.add_version(path)

    def parent_of(self, name: str) -> str | None:
        return self.registry.parent_of(name)

    def private_paths(self) -> list[Path]:
        """What a web server must never serve: the models folders and the SQLite database's folder."""
        return self.registry.private_paths()

    # ------------------------------------------------------------ the latent space (aigc.service.latents)

    def sample(
        self, name: str, n: int, seed: int, rater: str | None = None, truncation: float | None = None
    ) -> SampleBatch:
        """n seeded images, each recorded as a Sample before it is returned."""
        return self.latents.sample(name, n, seed, rater, truncation)

    def sample_to_rate(self, name: str, n: int, seed: int, rater: str | None = None) -> SampleBatch:
        """n images chosen to be worth rating next: from a pool of fresh seeded samples (`selection.pool_size`),
        those the reward model fitted on `rater`'s ratings is least sure of, and those unlike anything rated
        yet (aigc.feedback.selection); recorded as Samples before they are returned. They are recorded as
        'explore' with seed 0, as the explorer's latents are: a pick is not the seed's batch at its index, so
        it must not carry a seed permalink that would show another picture."""
        n, seed = self.limits.images(n), self.limits.seed(seed)
        self._admit(name, rater, n)  # before the pool of candidates: a refusal must cost nothing
        pool = self.registry.model(name).generate(pool_size(n), seed)
        picks = self.runs.pick_to_rate(name, pool.latents, pool.images, n, rater)
        images, ids = self.latents.show(name, pool.latents[picks], "explore", rater, admitted=True)
        return SampleBatch(name, seed, images, pool.latents[picks], ids)

    def decode(self, name: str, z: np.ndarray) -> np.ndarray:
        """One latent → one (H, W, C) uint8 image. Not recorded: the slider path must stay fast."""
        return self.latents.decode(name, z)

    def decode_many(self, name: str, latents: np.ndarray) -> np.ndarray:
        return self.latents.decode_many(name, latents)

    def show(
        self, name: str, latents: np.ndarray, source: str, rater: str | None = None, seed: int = 0
    ) -> tuple[np.ndarray, list[int]]:
        """Decode latents once and record them as Samples: (images, sample ids), for grids and strips."""
        return self.latents.show(name, latents, source, rater, seed)

    def latent_of(self, name: str, seed: int, index: int = 0, truncation: float | None = None) -> np.ndarray:
        """The index-th latent of a seed's batch (index bounded: it costs index + 1 draws)."""
        return self.latents.latent_of(name, seed, index, truncation)

    def axes(self, name: str) -> LatentAxes:
        """Slider axes: VAE dims by KL, GAN principal directions. Computed once per model."""
        return self.latents.axes(name)

    def encode(self, name: str, upload) -> Encoded:
        """An uploaded image (path, bytes, PIL or array) → the VAE's latent mean, and whether the picture was negated
        first (a light background for a model of dark ones)."""
        return self.latents.encode(name, upload)

    def interpolate(self, name: str, z_a: np.ndarray, z_b: np.ndarray, steps: int = 8) -> tuple[np.ndarray, np.ndarray]:
        """Slerp path a → b: (steps, H, W, C) images and their latents."""
        return self.latents.interpolate(name, z_a, z_b, steps)

    def interpolation_latents(self, name: str, z_a: np.ndarray, z_b: np.ndarray, steps: int = 8) -> np.ndarray:
        """The slerp path's latents alone, for callers that decode and record them in one `show`."""
        return self.latents.interpolation_latents(name, z_a, z_b, steps)

    def children(self, name: str, z: np.ndarray, n: int = 8, strength: float = 0.5, seed: int = 0) -> np.ndarray:
        """Breed: n latents near z (z + strength·noise), as Picbreeder's mutations."""
        return self.latents.children(name, z, n, strength, seed)

    def cross(self, name: str, z_a: np.ndarray, z_b: np.ndarray, seed: int = 0, mix: float = 0.5) -> np.ndarray:
        """A child of two latents: each coordinate from a or b (uniform crossover), as Artbreeder's gene mix."""
        return self.latents.cross(name, z_a, z_b, seed, mix)

    def taste(self, name: str, rater: str | None = None) -> np.ndarray | None:
        """The 'my taste' direction: normal of a linear separator of liked vs disliked latents of this lineage."""
        return self.latents.taste(name, rater)

    # ------------------------------------------------------------ feedback (aigc.service.ratings)

    def rate(self, sample_id: int, score: float, rater: str):
        return self.ratings.rate(sample_id, score, rater, self.roles)

    def rate_latent(self, name: str, z: np.ndarray, score: float, rater: str, source: str = "explore") -> int:
        """Rate an image from the explorer: it becomes a Sample, then gets the rating."""
        return self.ratings.rate_latent(name, z, score, rater, source)

    def sample_info(self, sample_id: int, viewer: str | None = None) -> tuple[str, np.ndarray]:
        """(model name, latent) of a stored sample, to reopen it in the explorer (only `viewer`'s own, see roles)."""
        return self.samples_info([sample_id], viewer)[0]

    def samples_info(self, sample_ids: list[int], viewer: str | None = None) -> list[tuple[str, np.ndarray]]:
        """(model name, latent) of many stored samples in one read, in the order asked (History's thumbnails);
        a latent is shown only to the person its sample was shown to (and admins; viewer None: the studio)."""
        return self.ratings.samples_info(self.roles, sample_ids, viewer)

    def sample_images(self, sample_ids: list[int], viewer: str | None = None) -> list[tuple[str, np.ndarray]]:
        """(model, image) of many stored samples: one read, one forward pass per model (History's cards).
        A retired version's samples are a grey card labelled so, never decoded with the weights that replaced it."""
        return self.ratings.sample_images(self.roles, sample_ids, viewer)

    def retired_label(self, version_id: int) -> str | None:
        """`fashion-gan@98dd59a4 (retired: a newer shipped file replaced it)` for a retired version, else None."""
        return self.ratings.retired_label(version_id)

    def history(self, rater: str, limit: int = 20, rated_only: bool = False):
        return self.ratings.history(rater, limit, rated_only)

    def export_ratings(self, rater: str, folder: Path) -> tuple[Path, int] | None:
        """`rater`'s ratings as a CSV file in `folder` (History's download): (path, rows), None if they have none."""
        return self.ratings.export_mine(rater, folder)

    def rated_by(self, name: str, latents: np.ndarray, rater: str) -> list[tuple[int, float] | None]:
        """Per latent: (sample id, score) of this rater's rating of the same picture of this version, if any."""
        return self.ratings.rated_by(name, latents, rater)

    def stats(self):
        return self.ratings.stats()

    def ratings_over_time(self, name: str | None = None):
        return self.ratings.ratings_over_time(name)

    def ab_pair(self, child: str, seed: int, rater: str) -> dict:
        """One blind pair: parent and child on the same seed, left/right at random, both recorded."""
        return self.ratings.ab_pair(child, seed, rater)

    def ab_pick(self, left_id: int, right_id: int, picked_id: int | None, rater: str) -> None:
        self.ratings.ab_pick(left_id, right_id, picked_id, rater)

    def ab_stats(self, child: str) -> dict:
        return self.ratings.ab_stats(child)

    # ------------------------------------------------------------ closing the loop (aigc.service.finetuning)

    def warm_up(self) -> list[str]:
        """Ahead of the first fine-tune, what it would wait for (the training set's learned view); a server
        calls it in the background at start. Returns the models it did work for ([]: all was ready)."""
        return self.runs.warm_up([m.name for m in self.models() if m.kind in ("gan", "vae") and m.parent is None])

    def ratings_ready(self, name: str, rater: str | None = None) -> Readiness:
        """How many usable ratings this model's lineage has, judged by the one readiness rule (the button's text)."""
        return self.runs.ratings_ready(name, rater)

    def ratings_advice(self, name: str, rater: str | None = None) -> RatingsAdvice:
        """Before training: how sure a fine-tune from these ratings would be, and warnings (too few, contradictory)."""
        return self.runs.ratings_advice(name, rater)

    def start_finetune(
        self, name: str, steps: int | None = None, rater: str | None = None, requester: str | None = None
    ) -> JobStatus:
        """Fine-tune `name` from its ratings (only `rater`'s if given) in a background process; poll `finetune_status`.

        The run joins the studio's line (aigc.service.queue) and starts when a slot is free.

        `requester` is who asked (metered by the fine-tune quota; with roles, a visitor's run uses
        only their own ratings and its version is theirs until an admin publishes it); None for the
        CLI and tests.
        """
        return self.runs.start(
            name,
            steps,
            rater,
            requester,
            roles=self.roles,
            queue=self.queue,
            charge=self.charge,
            refund=self.quotas.refund,
        )

    def use_worker_line(self, settings: QueueSettings | None = None) -> None:
        """Hand fine-tuning runs to `aigc worker`s through the PostgreSQL database (aigc.service.pgqueue)."""
        from aigc.service.pgqueue import PgFinetuneQueue, is_postgres  # procrastinate only when asked for

        if not is_postgres(self.store.url):
            raise StudioError("needs --db postgresql://… (the workers share that database)")
        self.queue = PgFinetuneQueue(self.store.url, self.store, settings or QueueSettings())

    def cancel_finetune(self, name: str, by: str | None) -> JobStatus:
        """Cancel `by`'s waiting or running run of `name`; an admin may cancel anyone's."""
        return self.runs.cancel(name, by, roles=self.roles, queue=self.queue, refund=self.quotas.refund)

    def finetune_status(self, name: str, viewer: str | None = None) -> JobStatus:
        """The latest run of `name`; a child `viewer` may not see (someone else's, unpublished) is not named."""
        return self.runs.status(name, viewer, roles=self.roles, queue=self.queue)

    def runs_of(self, owner: str) -> list[JobStatus]:
        """`owner`'s waiting and running runs, running first: a page opened (or reloaded) mid-run finds its own."""
        return [status for status in self.queue.line() if status.owner == owner]

    def compare(self, child: str, n: int = 8, seed: int = 0, viewer: str | None = None) -> tuple[Any, Any, dict]:
        """Parent and child images on the same seeds, the child's measured effect (`taste_of`: whose, for `viewer`)."""
        return self.runs.compare(child, n, seed, viewer, roles=self.roles)
