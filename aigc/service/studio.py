"""The service facade: everything the page, the CLI and tests do goes through a `Studio`.

It owns the loaded models (never per-session state: Gradio deep-copies State), the feedback
store, and the serving thread budget. Every image that reaches a person is recorded as a
`Sample` (with its latent and model version) before it is returned. Nothing here imports
Gradio; nothing above it imports torch.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sqlalchemy.engine import make_url

from aigc import paths
from aigc.data.datasets import DatasetError, load_upload
from aigc.data.images import image_sha256
from aigc.feedback.compare import binomial_p_value
from aigc.feedback.config import defaults_text
from aigc.feedback.finetune import recover
from aigc.feedback.ratings import READINESS, Readiness, usable_ratings
from aigc.feedback.taste import taste_direction
from aigc.models.checkpoint import SUFFIX
from aigc.models.latent import interpolation_path
from aigc.models.pipeline import ImageModel, load_model, models_dirs
from aigc.service.axes import LatentAxes, gan_axes, vae_axes
from aigc.service.errors import StudioError
from aigc.service.jobs import FinetuneJobs, JobStatus
from aigc.service.limits import RULES, SEED_RULE, Limits  # RULES, SEED_RULE: the page shows them
from aigc.service.model_health import BadCheckpoint, CheckpointHealth, same_file
from aigc.service.queue import FinetuneQueue, QueueSettings  # QueueSettings: for the page
from aigc.service.quotas import (  # noqa: F401 - re-exported for the page, which imports only this module
    QuotaExceeded,
    Quotas,
    QuotaSettings,
    add_quota_flags,
    quota_settings,
)
from aigc.service.roles import Roles
from feedback_db import Conflict, FeedbackError, FeedbackStore, VersionInfo

MAX_BATCH = Limits.max_images

RENAME_ADVICE = "A model's name is its file name: rename the file to serve it as a new version"

__all__ = ["MAX_BATCH", "RULES", "SEED_RULE", "ModelSummary", "SampleBatch", "Studio", "StudioError"]


@dataclass(frozen=True)
class ModelSummary:
    name: str
    kind: str
    version_id: int
    parent: str | None
    latent_dim: int
    image_shape: tuple[int, int, int]
    card: str
    owner: str | None = None  # whose fine-tune (roles); None: shipped or an operator's
    published: bool = True  # visible to every visitor


@dataclass(frozen=True)
class SampleBatch:
    model: str
    seed: int
    images: np.ndarray  # (N, H, W, C) uint8
    latents: np.ndarray  # (N, D) float32
    sample_ids: list[int]


MODELS_MAX_AGE_S = 5.0  # the longest `Studio.models()` may serve a list without looking at the database


@dataclass(frozen=True)
class _ModelsCache:
    stamp: tuple[tuple[str, int | None], ...]  # the models folders' mtimes when it was built
    built: float  # time.monotonic()
    entries: list[tuple[ModelSummary, VersionInfo]]


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
        """Wire the parts together; touches neither the process nor the disk (see `open` for that).

        The studio owns `store` (and `jobs`) from here on: `close` closes them. Models are found
        lazily, on the first `model`/`models` call, so a studio built this way is already usable.
        """
        self.limits = limits or Limits()  # every visitor-controlled quantity is checked against these
        self.device = device
        self.models_dir = Path(models_dir) if models_dir else None
        self.store = store
        self._models: dict[str, ImageModel] = {}
        self._axes: dict[str, LatentAxes] = {}
        self._versions: dict[str, VersionInfo] = {}
        self._lock = threading.RLock()
        # A cache that says so: `models()` is asked on every page load and by every picker. It is
        # rebuilt when this studio registers or publishes a version, when a models folder changes
        # (a file added, renamed or removed), and at the latest after `models_max_age_s` (versions
        # another replica registers in a shared database, with its files elsewhere).
        self._models_cache: _ModelsCache | None = None
        self.models_max_age_s = MODELS_MAX_AGE_S
        self.health = CheckpointHealth()  # bad files: logged once, never re-read until they change
        self.quotas = Quotas()  # a server replaces it with its flags' settings
        self.roles = Roles()  # a server with --auth replaces it (aigc.service.roles)
        self.jobs = jobs or FinetuneJobs(
            self.store.url,
            str(self.models_dir) if self.models_dir else None,
            on_done=lambda status: self.refresh(),
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
            recover(studio.store, studio.models_dir or paths.models_dir())
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

    # ------------------------------------------------------------ models and versions

    def _checkpoint_files(self) -> dict[str, list[Path]]:
        """name → its checkpoints in look-up order: the folders (user models before shipped ones), then the
        file a registered version points to. The first that loads is served; a bad one never hides the rest."""
        found: dict[str, list[Path]] = {}
        for folder in models_dirs(self.models_dir):
            if folder.is_dir():
                for path in sorted(folder.glob(f"*{SUFFIX}")):
                    if not path.name.startswith("."):  # hidden: a fine-tune still being published
                        found.setdefault(path.stem, []).append(path)
        for version in self.store.list_versions():  # registered by another replica or a fine-tune
            path = Path(version.checkpoint_path)
            paths = found.setdefault(version.name, [])
            if not any(same_file(path, p) for p in paths):
                paths.append(path)  # even when missing: the health check names it as unavailable
        return found

    def refresh(self) -> list[str]:
        """Discover checkpoints and make sure each GAN/VAE is a registered version; returns names."""
        with self._lock:
            for name, paths in self._checkpoint_files().items():
                if name in self._versions:
                    continue
                for path in paths:  # a broken file must neither take the page down nor hide a good one
                    model = self.health.load(name, path, lambda p: load_model(p, device=self.device))
                    if model is None:
                        continue
                    if model.kind not in ("gan", "vae"):
                        self.health.skip(path)  # a classifier: readable, not servable, not read again
                        continue
                    try:
                        self._register(name, model)
                    except Conflict as exc:  # a different file under a registered name: the registered one wins
                        self.health.refuse(name, path, str(exc).split(";")[0], RENAME_ADVICE)
                        continue
                    break
            return sorted(self._versions)

    def checkpoint_problems(self) -> list[BadCheckpoint]:
        """Files that are not served (what is wrong, what to do, what is served instead): the models tab lists them."""
        self.refresh()
        with self._lock:
            served = {name: model.path for name, model in self._models.items() if model.path}
        return self.health.problems(served)

    def _register(self, name: str, model: ImageModel) -> VersionInfo:
        parent = self._versions.get(model.record.parent) if model.record.parent else None
        if model.record.parent and parent is None:
            parent = self.store.get_version(model.record.parent)
        version = self.store.register_version(
            name=name,
            kind=model.kind,
            checkpoint_path=str(model.path),
            checkpoint_sha256=model.sha256,
            dataset=model.record.dataset,
            parent_id=parent.id if parent else None,
            metrics=model.record.extra.get("metrics"),
            config=model.record.config,
            latent_dim=model.latent_dim,
        )
        self._models[name] = model
        self._versions[name] = version
        self._models_cache = None
        return version

    def _name_of(self, version_id: int | None) -> str | None:
        """The loaded model registered as `version_id`, if any."""
        return (
            next((n for n, v in self._versions.items() if v.id == version_id), None) if version_id is not None else None
        )

    def model(self, name: str) -> ImageModel:
        name = self.limits.model_name(name)
        with self._lock:
            if name not in self._models:
                self.refresh()
            if name not in self._models:
                bad = next((b for b in self.health.problems() if b.name == name), None)
                if bad is not None:
                    raise StudioError(f"{name} is unavailable: {bad.problem}. {bad.advice}.")
                raise StudioError(f"unknown model {name!r}; available: {', '.join(sorted(self._models)) or 'none'}")
            return self._models[name]

    def version(self, name: str) -> VersionInfo:
        self.model(name)
        return self._versions[name]

    def kind(self, name: str) -> str:
        """'gan' or 'vae': what the page needs to know of a model without holding the model itself."""
        return self.model(name).kind

    def models(self, viewer: str | None = None) -> list[ModelSummary]:
        """Every version `viewer` may see (roles: published ones, their own, all for admins; None: all).

        Served from a cache (see `__init__`): no disk scan or database read unless something changed.
        """
        with self._lock:
            stamp = self._folders_stamp()
            cache = self._models_cache
            if cache is None or cache.stamp != stamp or time.monotonic() - cache.built > self.models_max_age_s:
                cache = self._models_cache = _ModelsCache(stamp, time.monotonic(), self._scan_models())
            entries = cache.entries
        return [summary for summary, version in entries if self.roles.can_see(version, viewer)]

    def _folders_stamp(self) -> tuple[tuple[str, int | None], ...]:
        """The models folders' modification times: any file added, renamed or removed changes them."""
        return tuple(
            (str(folder), folder.stat().st_mtime_ns if folder.is_dir() else None)
            for folder in models_dirs(self.models_dir)
        )

    def _scan_models(self) -> list[tuple[ModelSummary, VersionInfo]]:
        """The uncached work of `models()`: discover, register, read access rows and model cards."""
        self.refresh()
        access = {v.name: v for v in self.store.list_versions()} if self.roles.enforced else {}
        out = []
        for name in sorted(self._versions, key=lambda n: (self._versions[n].kind, self._versions[n].id)):
            m, v = self._models[name], access.get(name, self._versions[name])
            card = m.path.with_suffix(".md").read_text() if m.path and m.path.with_suffix(".md").exists() else ""
            parent = self._name_of(v.parent_id)
            summary = ModelSummary(name, m.kind, v.id, parent, m.latent_dim, m.image_shape, card, v.owner, v.published)
            out.append((summary, v))
        return out

    def check_visible(self, name: str, viewer: str | None) -> None:
        """Refuse a version `viewer` may not see, in the words used for one that does not exist."""
        name = self.limits.model_name(name)
        if self.roles.enforced and not self.roles.is_admin(viewer):
            found = self.store.get_version(name)
            if found is not None and not self.roles.can_see(found, viewer):
                raise StudioError(f"unknown model {name!r}")

    def publish(self, name: str, by: str | None, published: bool = True) -> VersionInfo:
        """An admin shows a version to every visitor (or takes it back to its owner and admins)."""
        self.roles.require_admin(by, "publish a version")
        self.model(name)
        version = self.store.publish_version(name, published)
        with self._lock:
            self._versions[name] = version
            self._models_cache = None
        return version

    def add_version(self, path: Path) -> VersionInfo:
        """Register a checkpoint written by a fine-tuning run (or another replica)."""
        with self._lock:
            model = load_model(path, device=self.device)
            return self._register(model.name, model)

    # ------------------------------------------------------------ sampling and the latent space

    def sample(
        self, name: str, n: int, seed: int, rater: str | None = None, truncation: float | None = None
    ) -> SampleBatch:
        """n seeded images, each recorded as a Sample before it is returned."""
        n, seed, truncation = self.limits.images(n), self.limits.seed(seed), self.limits.truncation(truncation)
        model = self.model(name)
        self.check_visible(name, rater)
        self.charge("samples", rater, n)
        generated = model.generate(n, seed, truncation if model.kind == "gan" else None)
        ids = self.store.record_samples(
            self._versions[name].id,
            generated.latents,
            seed=seed,
            source="sample",
            rater_id=rater,
            image_sha256s=[image_sha256(img) for img in generated.images],
        )
        return SampleBatch(name, seed, generated.images, generated.latents, ids)

    def decode(self, name: str, z: np.ndarray) -> np.ndarray:
        """One latent → one (H, W, C) uint8 image. Not recorded: the slider path must stay fast."""
        return self.model(name).decode(self._check_latent(name, z)[None])[0]

    def decode_many(self, name: str, latents: np.ndarray) -> np.ndarray:
        return self.model(name).decode(np.stack([self._check_latent(name, z) for z in latents]))

    def show(
        self, name: str, latents: np.ndarray, source: str, rater: str | None = None, seed: int = 0
    ) -> tuple[np.ndarray, list[int]]:
        """Decode latents once and record them as Samples: (images, sample ids), for grids and strips."""
        rows = np.atleast_2d(latents)
        if not 1 <= len(rows) <= self.limits.max_images:
            raise StudioError(f"number of images must be from 1 to {self.limits.max_images}, got {len(rows)}")
        latents = np.stack([self._check_latent(name, z) for z in rows])
        self.check_visible(name, rater)
        self.charge("samples", rater, len(latents))
        images = self.model(name).decode(latents)
        ids = self.store.record_samples(
            self.version(name).id,
            latents,
            seed=seed,
            source=source,
            rater_id=rater,
            image_sha256s=[image_sha256(img) for img in images],
        )
        return images, ids

    def charge(self, kind: str, who: str | None, amount: int = 1) -> None:
        """Book work against `who`'s quota and the deployment's (aigc.service.quotas); over it: StudioError."""
        try:
            self.quotas.charge(kind, who, amount)
        except QuotaExceeded as exc:
            raise StudioError(str(exc)) from None

    def _check_latent(self, name: str, z) -> np.ndarray:
        return self.limits.latent(z, self.model(name).latent_dim, f"a latent of {name}")

    def latent_of(self, name: str, seed: int, index: int = 0, truncation: float | None = None) -> np.ndarray:
        """The index-th latent of a seed's batch (index bounded: it costs index + 1 draws)."""
        seed, index, truncation = self.limits.seed(seed), self.limits.index(index), self.limits.truncation(truncation)
        model = self.model(name)
        return model.latents(index + 1, seed, truncation if model.kind == "gan" else None)[index]

    def axes(self, name: str) -> LatentAxes:
        """Slider axes: VAE dims by KL, GAN principal directions. Computed once per model."""
        name = self.limits.model_name(name)
        with self._lock:
            if name not in self._axes:
                model = self.model(name)
                self._axes[name] = (
                    vae_axes(model.latent_dim, model.record.extra.get("latent_kl"))
                    if model.kind == "vae"
                    else gan_axes(model.module.generator)
                )
            return self._axes[name]

    def encode(self, name: str, upload) -> np.ndarray:
        """An uploaded image (path, bytes, PIL or array) → the VAE's latent mean."""
        model = self.model(name)
        if model.kind != "vae":
            raise StudioError(f"{name} is a GAN: it has no encoder; pick a VAE to upload an image")
        h, _, c = model.image_shape
        upload = self.limits.upload(upload)
        try:
            pixels = load_upload(upload, size=h, channels=c)
        except DatasetError as exc:
            raise StudioError(str(exc)) from exc
        return model.encode(pixels[None])[0]

    def interpolate(self, name: str, z_a: np.ndarray, z_b: np.ndarray, steps: int = 8) -> tuple[np.ndarray, np.ndarray]:
        """Slerp path a → b: (steps, H, W, C) images and their latents."""
        path = self.interpolation_latents(name, z_a, z_b, steps)
        return self.model(name).decode(path), path

    def interpolation_latents(self, name: str, z_a: np.ndarray, z_b: np.ndarray, steps: int = 8) -> np.ndarray:
        """The slerp path's latents alone, for callers that decode and record them in one `show`."""
        steps = self.limits.steps(steps)
        return interpolation_path(self._check_latent(name, z_a), self._check_latent(name, z_b), steps).astype(
            np.float32
        )

    def children(self, name: str, z: np.ndarray, n: int = 8, strength: float = 0.5, seed: int = 0) -> np.ndarray:
        """Breed: n latents near z (z + strength·noise), as Picbreeder's mutations."""
        z = self._check_latent(name, z)
        n, strength, seed = self.limits.children(n), self.limits.strength(strength), self.limits.seed(seed)
        rng = np.random.default_rng(seed)
        return (z[None] + strength * rng.standard_normal((n, z.shape[0]))).astype(np.float32)

    def cross(self, name: str, z_a: np.ndarray, z_b: np.ndarray, seed: int = 0, mix: float = 0.5) -> np.ndarray:
        """A child of two latents: each coordinate from a or b (uniform crossover), as Artbreeder's gene mix."""
        a, b = self._check_latent(name, z_a), self._check_latent(name, z_b)
        mask = np.random.default_rng(self.limits.seed(seed)).random(a.shape[0]) < mix
        return np.where(mask, b, a).astype(np.float32)

    # ------------------------------------------------------------ feedback

    def rate(self, sample_id: int, score: float, rater: str):
        try:
            return self.store.rate(self.limits.sample_id(sample_id), self.limits.score(score), rater)
        except FeedbackError as exc:
            raise StudioError(str(exc)) from exc

    def rate_latent(self, name: str, z: np.ndarray, score: float, rater: str, source: str = "explore") -> int:
        """Rate an image from the explorer: it becomes a Sample, then gets the rating."""
        score = self.limits.score(score)  # before recording: a refused rating leaves no orphan sample
        sample_id = self.show(name, z, source, rater=rater)[1][0]
        self.rate(sample_id, score, rater)
        return sample_id

    def sample_info(self, sample_id: int, viewer: str | None = None) -> tuple[str, np.ndarray]:
        """(model name, latent) of a stored sample, to reopen it in the explorer (only `viewer`'s own, see roles)."""
        return self.samples_info([sample_id], viewer)[0]

    def samples_info(self, sample_ids: list[int], viewer: str | None = None) -> list[tuple[str, np.ndarray]]:
        """(model name, latent) of many stored samples in one read, in the order asked (History's thumbnails).

        A latent is shown only to the person its sample was shown to (and admins; viewer None: the
        studio itself): an uploaded photo's latent is as private as the photo.
        """
        try:
            infos = self.store.get_samples([self.limits.sample_id(i) for i in sample_ids])
        except FeedbackError as exc:
            raise StudioError(str(exc)) from exc
        for info in infos:
            if not self.roles.can_read_sample(info.rater_id, viewer):
                raise StudioError(f"sample {info.id} is not one of yours")
        return [(self._version_name(info.version_id), info.latent) for info in infos]

    def _version_name(self, version_id: int) -> str:
        name = self._name_of(version_id)
        if name is None:
            version = self.store.get_version(version_id)
            name = version.name if version else str(version_id)
        return name

    def history(self, rater: str, limit: int = 20):
        return self.store.recent_activity(rater, self.limits.history(limit))

    def rated_by(self, name: str, latents: np.ndarray, rater: str) -> list[tuple[int, float] | None]:
        """Per latent: (sample id, score) of this rater's rating of the same picture of this version, if any.

        Why: the same seed shown again (a permalink, a reload) is new Sample rows; the page shows the
        earlier rating on such a card and rates that earlier sample again, so nothing is duplicated.
        """
        version_id = self.version(name).id
        mine = {
            r.latent.astype(np.float32).tobytes(): (r.sample_id, r.score)
            for r in self.store.ratings_for_lineage(version_id, include_ancestors=False)
            if r.rater_id == rater and r.version_id == version_id
        }
        return [mine.get(np.asarray(z, np.float32).tobytes()) for z in latents]

    def stats(self):
        return self.store.stats_per_version()

    def ratings_over_time(self, name: str | None = None):
        return self.store.ratings_over_time(self.version(name).id if name else None)

    def private_paths(self) -> list[Path]:
        """What a web server must never serve: the models folders and the SQLite database's folder."""
        paths = [folder.resolve() for folder in models_dirs(self.models_dir)]
        url = make_url(self.store.url)
        if url.get_backend_name() == "sqlite" and url.database:
            paths.append(Path(url.database).expanduser().resolve().parent)
        return paths

    def taste(self, name: str, rater: str | None = None) -> np.ndarray | None:
        """The 'my taste' direction: normal of a linear separator of liked vs disliked latents of this lineage."""
        rated = usable_ratings(self.store, self.version(name).id, self.model(name).latent_dim, rater)
        if len(rated) < 4:
            return None
        return taste_direction(np.stack([r.latent for r in rated]), np.array([r.score for r in rated]))

    # ------------------------------------------------------------ closing the loop

    def ratings_ready(self, name: str, rater: str | None = None) -> Readiness:
        """How many usable ratings this model's lineage has, judged by the one readiness rule (the button's text)."""
        rated = usable_ratings(self.store, self.version(name).id, self.model(name).latent_dim, rater)
        return READINESS.assess([r.score for r in rated])

    def start_finetune(
        self, name: str, steps: int | None = None, rater: str | None = None, requester: str | None = None
    ) -> JobStatus:
        """Fine-tune `name` from its ratings (only `rater`'s if given) in a background process; poll `finetune_status`.

        The run joins the studio's line (aigc.service.queue) and starts when a slot is free.

        `requester` is who asked (metered by the fine-tune quota; with roles, a visitor's run uses
        only their own ratings and its version is theirs until an admin publishes it); None for the
        CLI and tests.
        """
        steps = self.limits.finetune_steps(steps)
        self.check_visible(name, requester)
        rater = self.roles.finetune_rater(rater, requester)
        ready = self.ratings_ready(name, rater)
        if not ready.ready:
            raise StudioError(ready.message())
        self.charge("finetunes", requester)
        try:
            owner = ["--owner", requester, "--private"] if self.roles.enforced and requester else []
            return self.queue.submit(self.model(name).name, steps, rater, owner=requester, extra_args=owner)
        except StudioError:
            self.quotas.refund("finetunes", requester)  # a run that never started costs nothing
            raise

    def use_worker_line(self, settings: QueueSettings | None = None) -> None:
        """Hand fine-tuning runs to `aigc worker`s through the PostgreSQL database (aigc.service.pgqueue)."""
        from aigc.service.pgqueue import PgFinetuneQueue, is_postgres  # procrastinate only when asked for

        if not is_postgres(self.store.url):
            raise StudioError("needs --db postgresql://… (the workers share that database)")
        self.queue = PgFinetuneQueue(self.store.url, self.store, settings or QueueSettings())

    def cancel_finetune(self, name: str, by: str | None) -> JobStatus:
        """Cancel `by`'s waiting or running run of `name`; an admin may cancel anyone's."""
        name = self.limits.model_name(name)
        return self.queue.cancel(name, by, admin=self.roles.enforced and self.roles.is_admin(by))

    @staticmethod
    def database_url(url: str | None = None) -> str:
        """The database `open(url)` uses: `url`, else $AIGC_DB_URL, else the home's SQLite file (aigc.paths)."""
        return paths.database_url(url)

    @staticmethod
    def default_steps_text() -> str:
        """The kinds' default fine-tune steps in words ('GAN 600, VAE 3000'), from the one defaults table."""
        return defaults_text("steps")

    def finetune_status(self, name: str, viewer: str | None = None) -> JobStatus:
        """The latest run of `name`; a child `viewer` may not see (someone else's, unpublished) is not named."""
        self.check_visible(name, viewer)
        status = self.queue.status(name, viewer)
        if status.child and self.roles.enforced and not self.roles.is_admin(viewer):
            child = self.store.get_version(status.child)
            if child is not None and not self.roles.can_see(child, viewer):
                return replace(status, child=None, metrics={}, message="someone else's run finished")
        return status

    def parent_of(self, name: str) -> str | None:
        return self._name_of(self.version(name).parent_id)

    def compare(self, child: str, n: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict]:
        """Parent and child on the same seeds, with the child's measured effect."""
        parent = self.parent_of(child)
        if parent is None:
            raise StudioError(f"{child} has no parent version to compare with")
        n, seed = self.limits.images(n), self.limits.seed(seed)
        return self.model(parent).sample(n, seed), self.model(child).sample(n, seed), dict(self.version(child).metrics)

    def ab_pair(self, child: str, seed: int, rater: str) -> dict:
        """One blind pair: parent and child on the same seed, left/right at random, both recorded."""
        parent = self.parent_of(child)
        if parent is None:
            raise StudioError(f"{child} has no parent version to compare with")
        z = self.latent_of(child, seed)
        shown = {m: self.show(m, z, "compare", rater=rater, seed=seed) for m in (parent, child)}  # m → (images, ids)
        child_left = bool(np.random.default_rng().integers(2))
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
        parent = self.parent_of(child)
        if parent is None:
            return {"wins": 0, "losses": 0, "ties": 0, "win_rate": None, "p_value": 1.0}
        st = self.store.comparison_stats(self.version(parent).id, self.version(child).id)
        return {
            "wins": st.wins,
            "losses": st.losses,
            "ties": st.ties,
            "win_rate": st.win_rate,
            "p_value": binomial_p_value(st.wins, st.losses),
        }
