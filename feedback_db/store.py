"""FeedbackStore: the one door to the feedback database.

Every public method validates its arguments, then runs as ONE transaction
(all or nothing) through `_write` or `_read`. Writes that meet a lock are
retried with backoff and end in `DatabaseBusy`, never in a half-written
request. Driver errors never escape: they become the domain errors of
`feedback_db.errors`. Results are frozen dataclasses, safe across threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from . import export as export_files
from . import migrate, ratings, reports, runs, samples, versions
from . import validate as v
from .engine import create_store_engine, masked_url, normalize_url, with_retry, writer
from .errors import Conflict, DatabaseBusy, FeedbackError, InvalidInput, NotFound
from .records import (
    ActivityItem,
    ComparisonInfo,
    ComparisonStats,
    RatedSample,
    RatingInfo,
    RatingPoint,
    RunInfo,
    SampleInfo,
    VersionInfo,
    VersionStats,
)
from .schema import utcnow

T = TypeVar("T")


class FeedbackStore:
    """Samples, ratings, comparisons, model versions and fine-tune runs.

    `url` is any SQLAlchemy URL (``sqlite:///path`` or
    ``postgresql+psycopg://...``), always given: this package knows no default
    location (the engine passes `aigc.paths.database_url()`).
    Opening upgrades the schema to the newest migration. Thread-safe: share one
    store per process. `retry_budget_s` bounds how long a write waits on locks;
    `durable=False` trades the last commits before a power cut for speed (see
    feedback_db.engine).
    """

    def __init__(
        self,
        url: str,
        *,
        busy_timeout_s: float = 5.0,
        retry_budget_s: float = 30.0,
        upgrade: bool = True,
        durable: bool = True,
    ) -> None:
        try:
            self.url = normalize_url(url)
        except (ValueError, SQLAlchemyError) as exc:
            reason = str(exc).replace(str(url), masked_url(url)) if url else str(exc)  # parse errors quote the URL
            raise InvalidInput(f"bad database URL {masked_url(url)!r}: {reason}") from None
        self.retry_budget_s = retry_budget_s
        self._engine = create_store_engine(self.url, busy_timeout_s=busy_timeout_s, durable=durable)
        self._writer = writer(self._engine)
        # SQLite admits one writer at a time anyway. Queueing this process's
        # threads on a lock spares them SQLite's busy handler, which sleeps in
        # steps of up to 100 ms; other processes still meet the busy timeout.
        self._write_lock = threading.Lock() if self.dialect == "sqlite" else nullcontext()
        if upgrade:
            try:
                self._guard("open database", lambda: migrate.upgrade(self._engine, budget_s=retry_budget_s))
            except BaseException:
                self._engine.dispose()
                raise

    # -- lifecycle ---------------------------------------------------------
    def close(self) -> None:
        """Close every pooled connection; the store is unusable afterwards."""
        self._engine.dispose()

    def __enter__(self) -> FeedbackStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FeedbackStore({self._engine.url.render_as_string(hide_password=True)!r})"

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    # -- transactions ------------------------------------------------------
    def _write(self, what: str, work: Callable[[Session], T]) -> T:
        """Run `work` in one write transaction: committed whole, or not at all."""

        def attempt() -> T:
            with self._write_lock:
                with Session(self._writer, expire_on_commit=False) as session, session.begin():
                    return work(session)

        return self._guard(what, lambda: with_retry(attempt, self.retry_budget_s, what))

    def _read(self, what: str, work: Callable[[Session], T]) -> T:
        def attempt() -> T:
            with Session(self._engine) as session, session.begin():
                return work(session)

        return self._guard(what, lambda: with_retry(attempt, self.retry_budget_s, what))

    @staticmethod
    def _guard(what: str, call: Callable[[], T]) -> T:
        """Translate what the driver raises into domain errors."""
        try:
            return call()
        except FeedbackError:
            raise
        except IntegrityError as exc:
            raise Conflict(f"{what}: the database refused it ({_first_line(exc.orig)})") from exc
        except DBAPIError as exc:
            raise FeedbackError(f"{what}: database error ({_first_line(exc.orig)})") from exc
        except PoolTimeout as exc:
            raise DatabaseBusy(f"{what}: no free database connection ({exc})") from exc
        except SQLAlchemyError as exc:
            raise FeedbackError(f"{what}: {exc}") from exc

    # -- model versions ----------------------------------------------------
    def register_version(
        self,
        name: str,
        kind: str,
        checkpoint_path: str | Path,
        checkpoint_sha256: str,
        dataset: str | None = None,
        parent_id: int | None = None,
        metrics: dict[str, Any] | None = None,
        config: dict[str, Any] | None = None,
        latent_dim: int | None = None,
        owner: str | None = None,
        published: bool = True,
    ) -> VersionInfo:
        """Register a checkpoint; idempotent by (name, sha256), Conflict if the
        name is taken by another checkpoint. `owner`/`published`: see `publish_version`
        (an existing version keeps its own)."""
        fields: dict[str, Any] = dict(  # keyword arguments of versions.register
            name=v.text_id(name, "version name", v.MAX_NAME_LEN),
            kind=v.model_kind(kind),
            checkpoint_path=v.text_id(str(checkpoint_path), "checkpoint path", 1024),
            checkpoint_sha256=v.sha256(checkpoint_sha256, "checkpoint sha256"),
            dataset=None if dataset is None else v.text_id(dataset, "dataset", v.MAX_NAME_LEN),
            parent_id=None if parent_id is None else v.row_id(parent_id, "parent id"),
            metrics=v.json_object(metrics, "metrics"),
            config=v.json_object(config, "config"),
            latent_dim=None if latent_dim is None else v.row_id(latent_dim, "latent_dim"),
            owner=None if owner is None else v.text_id(owner, "owner", 128),
            published=bool(published),
        )
        try:
            return self._write("register version", lambda s: versions.register(s, **fields))
        except Conflict as exc:
            if not isinstance(exc.__cause__, IntegrityError):
                raise
            # Lost a race with another process registering the same name: the
            # retry sees its row and answers as if we had been second all along.
            return self._write("register version", lambda s: versions.register(s, **fields))

    def publish_version(self, name_or_id: str | int, published: bool = True) -> VersionInfo:
        """Make a version visible to every visitor (published=False: back to its owner and admins only)."""
        return self._write("publish version", lambda s: versions.set_published(s, name_or_id, published))

    def retire_version(self, name: str, checkpoint_sha256: str) -> VersionInfo | None:
        """Retire the version `name` with that checkpoint (its file was replaced by another of the same name):
        it keeps its id, samples, ratings and children, is renamed `name@<sha256[:8]>` and frees the name.
        Idempotent: a second call returns the row already retired for that sha256 (None: nothing to retire)."""
        name = v.text_id(name, "version name", v.MAX_NAME_LEN)
        sha = v.sha256(checkpoint_sha256, "checkpoint sha256")
        return self._write("retire version", lambda s: versions.retire(s, name, sha))

    def get_version(self, name_or_id: str | int) -> VersionInfo | None:
        return self._read("get version", lambda s: versions.get(s, name_or_id))

    def list_versions(self) -> list[VersionInfo]:
        return self._read("list versions", versions.list_all)

    def lineage(self, version_id: int) -> list[VersionInfo]:
        """The version, then its parent, grandparent... up to the root."""
        vid = v.row_id(version_id, "version id")
        return self._read("lineage", lambda s: versions.lineage(s, vid))

    def update_version_metrics(self, version_id: int, metrics: dict[str, Any]) -> VersionInfo:
        """Merge `metrics` into the version's stored metrics."""
        vid = v.row_id(version_id, "version id")
        new = v.json_object(metrics, "metrics")
        return self._write("update metrics", lambda s: versions.update_metrics(s, vid, new))

    # -- samples -------------------------------------------------------------
    def record_samples(
        self,
        version_id: int,
        latents: Any,
        seed: int,
        source: str = "sample",
        rater_id: str | None = None,
        image_sha256s: Sequence[str | None] | None = None,
        start_index: int = 0,
    ) -> list[int]:
        """Record a batch of shown latents (rows of a 2D array) in one
        transaction; returns their sample ids in the same order."""
        vid = v.row_id(version_id, "version id")
        matrix = v.latent_matrix(latents)
        fields: dict[str, Any] = dict(  # keyword arguments of samples.record
            version_id=vid,
            latents=matrix,
            seed=v.seed(seed),
            source=v.source(source),
            rater_id=v.optional_text_id(rater_id, "rater id"),
            image_sha256s=v.hashes(image_sha256s, matrix.shape[0]),
            start_index=v.count(start_index, "start_index"),
        )
        return self._write("record samples", lambda s: samples.record(s, **fields))

    def get_sample(self, sample_id: int) -> SampleInfo:
        sid = v.row_id(sample_id, "sample id")
        return self._read("get sample", lambda s: samples.get(s, sid))

    def get_samples(self, ids: Iterable[int]) -> list[SampleInfo]:
        wanted = v.id_list(ids, "sample id")
        return self._read("get samples", lambda s: samples.get_many(s, wanted))

    # -- ratings and comparisons --------------------------------------------
    def rate(self, sample_id: int, score: float, rater_id: str) -> RatingInfo:
        """Set this rater's score for the sample (rating again replaces it)."""
        sid = v.row_id(sample_id, "sample id")
        value = v.score(score)
        rater = v.text_id(rater_id, "rater id")
        try:
            return self._write("rate", lambda s: ratings.rate(s, sid, value, rater))
        except Conflict as exc:
            # The upsert absorbs duplicates and the score was checked above, so
            # the only constraint left to fail is the sample's foreign key.
            if isinstance(exc.__cause__, IntegrityError):
                raise NotFound(f"sample {sid} does not exist") from None
            raise

    @staticmethod
    def stars_to_score(stars: float) -> float:
        return v.stars_to_score(stars)

    def ratings_for_lineage(self, version_id: int, include_ancestors: bool = True) -> list[RatedSample]:
        """Ratings of samples from this version (and its ancestors), oldest first."""
        vid = v.row_id(version_id, "version id")
        return self._read("ratings for lineage", lambda s: ratings.for_lineage(s, vid, include_ancestors))

    def recent_activity(self, rater_id: str, limit: int = 20, rated_only: bool = False) -> list[ActivityItem]:
        """The person's own recent samples and ratings (`rated_only`: the samples they rated), newest first."""
        rater = v.text_id(rater_id, "rater id")
        n = v.count(limit, "limit")
        return self._read("recent activity", lambda s: ratings.recent_activity(s, rater, n, bool(rated_only)))

    def record_comparison(
        self, left_sample_id: int, right_sample_id: int, picked_sample_id: int | None, rater_id: str
    ) -> ComparisonInfo:
        """A blind A/B pick; `picked_sample_id=None` records a tie."""
        left = v.row_id(left_sample_id, "left sample id")
        right = v.row_id(right_sample_id, "right sample id")
        picked = None if picked_sample_id is None else v.row_id(picked_sample_id, "picked sample id")
        rater = v.text_id(rater_id, "rater id")
        return self._write("record comparison", lambda s: ratings.record_comparison(s, left, right, picked, rater))

    def comparisons(self, rater_id: str | None = None, limit: int = 100) -> list[ComparisonInfo]:
        """The stored blind picks (only `rater_id`'s if given), newest first: which two samples, which was picked."""
        rater = None if rater_id is None else v.text_id(rater_id, "rater id")
        n = v.count(limit, "limit")
        return self._read("comparisons", lambda s: ratings.comparisons(s, rater, n))

    def comparison_stats(self, parent_version_id: int, child_version_id: int) -> ComparisonStats:
        parent = v.row_id(parent_version_id, "parent version id")
        child = v.row_id(child_version_id, "child version id")
        return self._read("comparison stats", lambda s: ratings.comparison_stats(s, parent, child))

    # -- fine-tune runs ------------------------------------------------------
    def start_run(self, parent_version_id: int, config: dict[str, Any] | None, n_ratings: int) -> int:
        """Record a running fine-tune of the parent; Conflict if one is running."""
        parent = v.row_id(parent_version_id, "parent version id")
        cfg = v.json_object(config, "config")
        n = v.count(n_ratings, "n_ratings")
        try:
            return self._write("start run", lambda s: runs.start(s, parent, cfg, n))
        except Conflict as exc:
            if isinstance(exc.__cause__, IntegrityError):
                raise Conflict(f"a fine-tune run of version {parent} is already running") from exc
            raise

    def finish_run(self, run_id: int, child_version_id: int, metrics: dict[str, Any] | None = None) -> RunInfo:
        rid = v.row_id(run_id, "run id")
        child = v.row_id(child_version_id, "child version id")
        m = v.json_object(metrics, "metrics")
        return self._write("finish run", lambda s: runs.finish(s, rid, child, m))

    def fail_run(self, run_id: int, error: str) -> RunInfo:
        rid = v.row_id(run_id, "run id")
        text = str(error).strip() or "failed without a message"
        return self._write("fail run", lambda s: runs.fail(s, rid, text))

    def fail_stale_runs(
        self,
        older_than: timedelta | None = None,
        *,
        host: str | None = None,
        is_alive: Callable[[int, Any], bool] = runs.runs_since,
    ) -> list[int]:
        """Fail runs left 'running' by a dead process; call when a process starts.

        Runs on this host are checked by pid (and process start time); runs of
        other hosts only by age, when `older_than` is given. Returns the ids failed.
        """
        here = host or runs.this_host()
        now = utcnow()
        return self._write(
            "fail stale runs",
            lambda s: runs.fail_stale(s, host=here, is_alive=is_alive, older_than=older_than, now=now),
        )

    def get_run(self, run_id: int) -> RunInfo:
        rid = v.row_id(run_id, "run id")
        return self._read("get run", lambda s: runs.get(s, rid))

    def report_run_progress(self, run_id: int, stage: str, progress: float) -> None:
        """How far a running run has got (a worker's report; the server's /finetune_status reads it)."""
        rid = v.row_id(run_id, "run id")
        name = v.text_id(stage, "stage", 32)
        fraction = float(progress)
        if not 0.0 <= fraction <= 1.0:
            raise InvalidInput(f"progress must be from 0 to 1, got {progress!r}")
        self._write("report progress", lambda s: runs.report_progress(s, rid, name, fraction))

    def list_runs(self, version_id: int | None = None) -> list[RunInfo]:
        vid = None if version_id is None else v.row_id(version_id, "version id")
        return self._read("list runs", lambda s: runs.list_for(s, vid))

    # -- reports -------------------------------------------------------------
    def stats_per_version(self) -> list[VersionStats]:
        return self._read("stats", reports.stats_per_version)

    def ratings_over_time(self, version_id: int | None = None) -> list[RatingPoint]:
        vid = None if version_id is None else v.row_id(version_id, "version id")
        return self._read("ratings over time", lambda s: reports.ratings_over_time(s, vid))

    def export(self, format: str, out_path: str | Path, rater_id: str | None = None, newest: int | None = None) -> int:
        """Write every rating with its sample (latent as a list) to CSV or JSON
        Lines, from one consistent snapshot; returns the number of rows.
        `rater_id`: only that person's, latents only of their own samples; `newest`: only the most recent that
        many (`reports.export_rows`)."""
        if format not in export_files.FORMATS:
            raise InvalidInput(f"export format must be one of {export_files.FORMATS}, got {format!r}")
        rater = v.optional_text_id(rater_id, "rater id")
        limit = None if newest is None else v.count(newest, "newest")
        rows = lambda s: reports.export_rows(s, rater_id=rater, newest=limit)  # noqa: E731
        return self._read("export", lambda s: export_files.write(rows(s), format, out_path))

    # -- schema ----------------------------------------------------------------
    def schema_revision(self) -> str | None:
        return migrate.current_revision(self._engine)


def _first_line(exc: BaseException | None) -> str:
    return str(exc).strip().splitlines()[0] if exc is not None and str(exc).strip() else "unknown error"
