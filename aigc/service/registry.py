"""The models a studio serves: checkpoints found on disk or in the database, each a registered version.

Split out of `Studio` (aigc.service.studio, the one facade the page calls) so that what is loaded, what is
registered, who may see it and how long the models list is cached live in one place. It holds the
loaded models (never per-session state: Gradio deep-copies State) behind one lock; `Studio` delegates
to it and passes its current `Roles` in, because a server replaces them after the studio is built.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy.engine import make_url

from aigc.models.checkpoint import SUFFIX, file_sha256
from aigc.models.pipeline import PRETRAINED_DIR, ImageModel, load_model, models_dirs
from aigc.service.errors import StudioError
from aigc.service.limits import Limits
from aigc.service.model_health import BadCheckpoint, CheckpointHealth, same_file
from aigc.service.roles import Roles
from feedback_db import Conflict, FeedbackStore, VersionInfo

log = logging.getLogger("aigc.models")

RENAME_ADVICE = "A model's name is its file name: rename the file to serve it as a new version"
RETIRED_NOTE = "retired: a newer shipped file replaced it"


def retired_label(version: VersionInfo) -> str:
    """How a retired version is named: `fashion-gan@98dd59a4 (retired: a newer shipped file replaced it)`."""
    return f"{version.name} ({RETIRED_NOTE})"


MODELS_MAX_AGE_S = 5.0  # the longest `Studio.models()` may serve a list without looking at the database


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
class _ModelsCache:
    stamp: tuple[tuple[str, int | None], ...]  # the models folders' mtimes when it was built
    built: float  # time.monotonic()
    entries: list[tuple[ModelSummary, VersionInfo]]


class ModelRegistry:
    """Loaded models and their registered versions, the checkpoint health log and the models-list cache."""

    # Folders of shipped checkpoints: a new file there under a registered name (retrained weights shipped
    # with a new release) retires the registered version instead of being refused (see `_retire_replaced`).
    shipped_dirs: tuple[Path, ...] = (PRETRAINED_DIR,)

    def __init__(self, store: FeedbackStore, models_dir: Path | None, device: str | None, limits: Limits):
        self.store = store
        self.models_dir = models_dir
        self.device = device
        self.limits = limits
        self.lock = threading.RLock()  # also guards the studio's other per-model caches (slider axes)
        self._models: dict[str, ImageModel] = {}
        self._versions: dict[str, VersionInfo] = {}
        self._retired: dict[int, VersionInfo] = {}  # id → retired version: its samples are never decoded again
        # A cache that says so: `models()` is asked on every page load and by every picker. It is
        # rebuilt when this studio registers or publishes a version, when a models folder changes
        # (a file added, renamed or removed), and at the latest after `max_age_s` (versions
        # another replica registers in a shared database, with its files elsewhere).
        self._cache: _ModelsCache | None = None
        self.max_age_s = MODELS_MAX_AGE_S
        self.health = CheckpointHealth()  # bad files: logged once, never re-read until they change

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
            if version.retired:  # its file now holds other weights (or is gone): never served again
                self._retired[version.id] = version
                continue
            path = Path(version.checkpoint_path)
            paths = found.setdefault(version.name, [])
            if not any(same_file(path, p) for p in paths):
                paths.append(path)  # even when missing: the health check names it as unavailable
        return found

    def refresh(self) -> list[str]:
        """Discover checkpoints and make sure each GAN/VAE is a registered version; returns names."""
        with self.lock:
            found, tried = self._checkpoint_files(), set[str]()
            for name in found:
                self._discover(name, found, tried)
            return sorted(self._versions)

    def _discover(self, name: str, found: dict[str, list[Path]], tried: set[str]) -> None:
        """Register `name` from the first of its files that loads, its parent first.

        Files are found in name order, and a child's name can sort before its parent's
        (`tiny-gan-child` before `tiny-gan`): registered first on a fresh database, it would get no
        parent. The child's record names its parent, so that one is registered before it.
        """
        if name in self._versions or name in tried:
            return
        tried.add(name)  # once per refresh: also ends a (damaged) cycle of parents
        for path in found[name]:  # a broken file must neither take the page down nor hide a good one
            model = self.health.load(name, path, lambda p: load_model(p, device=self.device))
            if model is None:
                continue
            if model.kind not in ("gan", "vae"):
                self.health.skip(path)  # a classifier: readable, not servable, not read again
                continue
            parent = model.record.parent
            if parent and parent != name and parent in found:
                self._discover(parent, found, tried)
            try:
                self._register(name, model)
            except Conflict as exc:  # a different file under a registered name: the registered one wins...
                refused: Conflict | None = exc
                if self._retire_replaced(name, model):  # ...unless shipped weights replaced its file
                    try:
                        self._register(name, model)
                        refused = None
                    except Conflict as again:
                        refused = again
                if refused is not None:
                    self.health.refuse(name, path, str(refused).split(";")[0], RENAME_ADVICE)
                    continue
            break

    def is_shipped(self, model: ImageModel) -> bool:
        """A checkpoint that came with the studio (in a shipped folder) or a root model (no parent)."""
        if model.record.parent is None:
            return True
        path = model.path.resolve() if model.path else None
        return path is not None and any(path.is_relative_to(folder.resolve()) for folder in self.shipped_dirs)

    def _retire_replaced(self, name: str, model: ImageModel) -> bool:
        """Retire the version registered as `name` when `model` is shipped weights that replaced its file;
        True: registering `model` under `name` is worth another try.

        A release may ship retrained weights under the old file name, the old file gone. The registered
        version then keeps its id (its samples, ratings, runs and children keep pointing at it) under the
        name `name@<first 8 of its sha256>`, marked retired, and `name` is free for the new file. A user's
        own checkpoint is refused as before while the registered file is still there with its weights:
        two different files under one name, and the registered one wins.
        """
        old = self.store.get_version(name)
        if old is None or old.checkpoint_sha256 == model.sha256:
            return True  # another process retired or registered meanwhile: worth one more try
        if not self.is_shipped(model):
            return False
        old_path = Path(old.checkpoint_path)
        try:
            still_there = old_path.is_file() and file_sha256(old_path) == old.checkpoint_sha256
        except OSError:
            still_there = False
        if still_there:
            return False
        retired = self.store.retire_version(name, old.checkpoint_sha256)
        if retired is not None:
            self._retired[retired.id] = retired
            self._cache = None
            log.warning(
                "%s: new weights (sha256 %s…) replace version %d, now %s",
                name,
                model.sha256[:8],
                old.id,
                retired_label(retired),
            )
        return True

    def checkpoint_problems(self) -> list[BadCheckpoint]:
        """Files that are not served (what is wrong, what to do, what is served instead)."""
        self.refresh()
        with self.lock:
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
        self._cache = None
        return version

    def name_of(self, version_id: int | None) -> str | None:
        """The loaded model registered as `version_id`, if any."""
        return (
            next((n for n, v in self._versions.items() if v.id == version_id), None) if version_id is not None else None
        )

    def version_name(self, version_id: int) -> str:
        """A version's name, loaded or not (its id as text if the database no longer has it)."""
        name = self.name_of(version_id)
        if name is None:
            version = self.store.get_version(version_id)
            name = version.name if version else str(version_id)
        return name

    def retired(self, version_id: int) -> VersionInfo | None:
        """The version `version_id` if it is retired (its shipped weights were replaced), else None."""
        with self.lock:
            if version_id in self._retired:
                return self._retired[version_id]
            if any(v.id == version_id for v in self._versions.values()):
                return None
        version = self.store.get_version(version_id)  # retired by another replica since the last refresh
        if version is not None and version.retired:
            with self.lock:
                self._retired[version.id] = version
            return version
        return None

    def retired_named(self, name: str) -> VersionInfo | None:
        with self.lock:
            return next((v for v in self._retired.values() if v.name == name), None)

    def blank_image(self, version: VersionInfo) -> np.ndarray:
        """A flat grey card in place of a retired version's picture (the weights that made it are gone)."""
        base = version.name.rsplit("@", 1)[0]
        with self.lock:
            model = self._models.get(base) or next(iter(self._models.values()), None)
        shape = model.image_shape if model is not None else (28, 28, 1)
        return np.full(shape, 128, np.uint8)

    def model(self, name: str) -> ImageModel:
        name = self.limits.model_name(name)
        with self.lock:
            if name not in self._models:
                self.refresh()
            if name not in self._models:
                retired = self.retired_named(name)
                if retired is not None:
                    raise StudioError(
                        f"{retired_label(retired)}: its pictures cannot be made again; "
                        f"{name.rsplit('@', 1)[0]} now serves the new weights"
                    )
                bad = next((b for b in self.health.problems() if b.name == name), None)
                if bad is not None:
                    raise StudioError(f"{name} is unavailable: {bad.problem}. {bad.advice}.")
                shown = [n for n, v in self._versions.items() if v.owner is None or v.published]  # never a private one
                listed = sorted(n for n in self._models if n in shown or n not in self._versions)
                raise StudioError(f"unknown model {name!r}; available: {', '.join(listed) or 'none'}")
            return self._models[name]

    def version(self, name: str) -> VersionInfo:
        self.model(name)
        return self._versions[name]

    def parent_of(self, name: str) -> str | None:
        return self.name_of(self.version(name).parent_id)

    def models(self, roles: Roles, viewer: str | None = None) -> list[ModelSummary]:
        """Every version `viewer` may see under `roles`, from the cache (see `__init__`) unless something changed."""
        with self.lock:
            stamp = self._folders_stamp()
            cache = self._cache
            if cache is None or cache.stamp != stamp or time.monotonic() - cache.built > self.max_age_s:
                cache = self._cache = _ModelsCache(stamp, time.monotonic(), self._scan_models(roles))
            entries = cache.entries
        return [summary for summary, version in entries if roles.can_see(version, viewer)]

    def _folders_stamp(self) -> tuple[tuple[str, int | None], ...]:
        """The models folders' modification times: any file added, renamed or removed changes them."""
        return tuple(
            (str(folder), folder.stat().st_mtime_ns if folder.is_dir() else None)
            for folder in models_dirs(self.models_dir)
        )

    def _scan_models(self, roles: Roles) -> list[tuple[ModelSummary, VersionInfo]]:
        """The uncached work of `models()`: discover, register, read access rows and model cards."""
        self.refresh()
        access = {v.name: v for v in self.store.list_versions()} if roles.enforced else {}
        out = []
        for name in sorted(self._versions, key=lambda n: (self._versions[n].kind, self._versions[n].id)):
            m, v = self._models[name], access.get(name, self._versions[name])
            card = m.path.with_suffix(".md").read_text() if m.path and m.path.with_suffix(".md").exists() else ""
            parent = self.name_of(v.parent_id)
            summary = ModelSummary(name, m.kind, v.id, parent, m.latent_dim, m.image_shape, card, v.owner, v.published)
            out.append((summary, v))
        return out

    def check_visible(self, roles: Roles, name: str, viewer: str | None) -> None:
        """Refuse a version `viewer` may not see, in the words used for one that does not exist."""
        name = self.limits.model_name(name)
        if roles.enforced and not roles.is_admin(viewer):
            found = self.store.get_version(name)
            if found is not None and not roles.can_see(found, viewer):
                raise StudioError(f"unknown model {name!r}")

    def publish(self, name: str, published: bool) -> VersionInfo:
        """Show a version to every visitor or take it back (the caller checked that an admin asks). Only a
        visitor's fine-tune (it has an owner): taking back a shipped model hid it from everyone, and every
        visitor's page then failed on a picker whose value had left its choices."""
        self.model(name)
        if self._versions[name].owner is None:
            raise StudioError(f"{name} belongs to no visitor: only a visitor's fine-tune is published or taken back")
        version = self.store.publish_version(name, published)
        with self.lock:
            self._versions[name] = version
            self._cache = None
        return version

    def add_version(self, path: Path) -> VersionInfo:
        """Register a checkpoint written by a fine-tuning run (or another replica)."""
        with self.lock:
            model = load_model(path, device=self.device)
            return self._register(model.name, model)

    def private_paths(self) -> list[Path]:
        """What a web server must never serve: the models folders and the SQLite database's folder."""
        paths = [folder.resolve() for folder in models_dirs(self.models_dir)]
        database_folder = sqlite_folder(self.store.url)
        return paths + ([database_folder] if database_folder else [])


def sqlite_folder(url: str) -> Path | None:
    """The folder of an SQLite database file (None for another database, or SQLite in memory)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        return Path(parsed.database).expanduser().resolve().parent
    return None


__all__ = ["MODELS_MAX_AGE_S", "RENAME_ADVICE", "RETIRED_NOTE", "ModelRegistry", "ModelSummary", "retired_label"]
