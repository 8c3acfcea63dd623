"""The tables of the feedback loop, as SQLAlchemy 2.0 typed ORM classes.

This module is the single description of the schema: Alembic's migrations must
agree with it (a test runs alembic's comparison against a migrated database).
It holds declarations only; reads and writes live in the store's modules.

Latents are stored as little-endian float32 bytes plus their dimension, so the
database needs no array type and the package needs no torch.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

MODEL_KINDS = ("gan", "vae")
SAMPLE_SOURCES = ("sample", "explore", "upload", "interpolate", "compare")
RUN_STATUSES = ("queued", "running", "succeeded", "failed")

# Alembic needs stable constraint names to alter them later (SQLite batch mode).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Timezone-aware now; every timestamp in the database is UTC."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always UTC and always timezone-aware in Python.

    SQLite keeps no zone and hands back naive values; PostgreSQL hands back
    aware ones. This type makes both look the same to callers.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ModelVersion(Base):
    """One checkpoint of a model: pretrained, or fine-tuned from a parent."""

    __tablename__ = "model_versions"
    __table_args__ = (CheckConstraint(_one_of("kind", MODEL_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"), index=True)
    checkpoint_path: Mapped[str] = mapped_column(String(1024))
    checkpoint_sha256: Mapped[str] = mapped_column(String(64))
    dataset: Mapped[str | None] = mapped_column(String(200))
    latent_dim: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Roles (0003): whose fine-tune this is, and whether every visitor may see it.
    owner: Mapped[str | None] = mapped_column(String(128))
    published: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # 0005: when its shipped weights were replaced by a new file of the same name (NULL: current). A retired
    # version keeps its id, samples, ratings and children; its name becomes `name@<first 8 of its sha256>`.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Sample(Base):
    """One latent vector shown to someone, with where it came from."""

    __tablename__ = "samples"
    __table_args__ = (
        CheckConstraint(_one_of("source", SAMPLE_SOURCES), name="source"),
        CheckConstraint("latent_dim > 0", name="latent_dim_positive"),
        Index("ix_samples_version_id_id", "version_id", "id"),
        Index("ix_samples_session_id_created_at", "session_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    seed: Mapped[int] = mapped_column(BigInteger)
    batch_index: Mapped[int] = mapped_column(Integer)
    latent: Mapped[bytes] = mapped_column(LargeBinary)
    latent_dim: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))
    # who was shown it (the rater): the column keeps the name it was created with, no migration needed
    rater_id: Mapped[str | None] = mapped_column("session_id", String(128))
    image_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Rating(Base):
    """One rater's current opinion of one sample; rating again overwrites it."""

    __tablename__ = "ratings"
    __table_args__ = (
        UniqueConstraint("sample_id", "rater_id"),
        CheckConstraint("score >= -1.0 AND score <= 1.0", name="score_range"),
        Index("ix_ratings_rater_id_updated_at", "rater_id", "updated_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"))
    rater_id: Mapped[str] = mapped_column(String(128))
    score: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Comparison(Base):
    """A blind A/B pick between two samples (typically parent vs fine-tuned child)."""

    __tablename__ = "comparisons"
    __table_args__ = (
        CheckConstraint("left_sample_id <> right_sample_id", name="distinct_sides"),
        CheckConstraint(
            "picked_sample_id IS NULL OR picked_sample_id = left_sample_id OR picked_sample_id = right_sample_id",
            name="picked_is_shown",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    left_sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id"), index=True)
    right_sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id"), index=True)
    # NULL means a tie ("no preference").
    picked_sample_id: Mapped[int | None] = mapped_column(ForeignKey("samples.id"))
    rater_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FinetuneRun(Base):
    """One fine-tuning run from a parent version, and what became of it."""

    __tablename__ = "finetune_runs"
    __table_args__ = (
        CheckConstraint(_one_of("status", RUN_STATUSES), name="status"),
        # At most one running run per parent, enforced by the database itself so
        # two processes racing to start cannot both win.
        Index(
            "uq_finetune_runs_one_running_per_parent",
            "parent_version_id",
            unique=True,
            sqlite_where=text("status = 'running'"),
            postgresql_where=text("status = 'running'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parent_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    child_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    status: Mapped[str] = mapped_column(String(16))
    n_ratings: Mapped[int] = mapped_column(Integer, default=0)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    # Who runs it: lets a later process tell a live run from one orphaned by a crash.
    pid: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(String(255))
    # 0004: how far a worker's run has got (stage name, fraction in [0, 1])
    stage: Mapped[str | None] = mapped_column(String(32))
    progress: Mapped[float | None] = mapped_column(Float)


__all__ = [
    "Base",
    "Comparison",
    "FinetuneRun",
    "MODEL_KINDS",
    "ModelVersion",
    "RUN_STATUSES",
    "Rating",
    "SAMPLE_SOURCES",
    "Sample",
    "UTCDateTime",
    "utcnow",
]
