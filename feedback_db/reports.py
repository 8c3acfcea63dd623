"""Read-only summaries: per-version counts, ratings over time, export rows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from . import validate as v
from .records import RatingPoint, VersionStats
from .schema import ModelVersion, Rating, Sample

EXPORT_FIELDS = (
    "rating_id",
    "sample_id",
    "version_id",
    "version_name",
    "rater_id",
    "score",
    "rated_at",
    "seed",
    "index",
    "source",
    "session_id",
    "image_sha256",
    "sample_created_at",
    "latent_dim",
    "latent",
)


def stats_per_version(session: Session) -> list[VersionStats]:
    """Counts per version in two grouped queries (not one query per version)."""
    n_samples = dict(
        session.execute(select(Sample.version_id, func.count(Sample.id)).group_by(Sample.version_id)).all()
    )
    rating_rows = session.execute(
        select(
            Sample.version_id,
            func.count(Rating.id),
            func.count(case((Rating.score > 0, 1))),
            func.count(case((Rating.score < 0, 1))),
            func.avg(Rating.score),
        )
        .join(Sample, Rating.sample_id == Sample.id)
        .group_by(Sample.version_id)
    ).all()
    by_version = {row[0]: row[1:] for row in rating_rows}
    out = []
    for vid, name in session.execute(select(ModelVersion.id, ModelVersion.name).order_by(ModelVersion.id)):
        n, likes, dislikes, mean = by_version.get(vid, (0, 0, 0, None))
        out.append(
            VersionStats(
                version_id=vid,
                name=name,
                n_samples=int(n_samples.get(vid, 0)),
                n_ratings=int(n),
                n_likes=int(likes),
                n_dislikes=int(dislikes),
                mean_score=None if mean is None else float(mean),
            )
        )
    return out


def ratings_over_time(session: Session, version_id: int | None) -> list[RatingPoint]:
    stmt = (
        select(Rating.updated_at, Sample.version_id, Rating.sample_id, Rating.rater_id, Rating.score)
        .join(Sample, Rating.sample_id == Sample.id)
        .order_by(Rating.updated_at, Rating.id)
    )
    if version_id is not None:
        stmt = stmt.where(Sample.version_id == version_id)
    return [RatingPoint(*row) for row in session.execute(stmt)]


def export_rows(
    session: Session, batch: int = 1000, rater_id: str | None = None, newest: int | None = None
) -> Iterator[dict[str, Any]]:
    """Every rating with its sample and version, oldest first, streamed in batches
    so an export never holds the whole table in memory.

    With `rater_id`: only that person's ratings (their own download), and a sample's latent only where the
    sample was shown to them (an empty list otherwise): a sample id is a number anyone can rate through the
    API, and the latent of a picture shown to someone else (an uploaded photo's) is theirs. `newest`: only the
    most recent that many (still oldest first), so a file served to a visitor has a bounded size.
    """
    stmt = (
        select(Rating, Sample, ModelVersion.name)
        .join(Sample, Rating.sample_id == Sample.id)
        .join(ModelVersion, Sample.version_id == ModelVersion.id)
        .order_by(Rating.id)
        .execution_options(yield_per=batch)
    )
    if rater_id is not None:
        stmt = stmt.where(Rating.rater_id == rater_id)
    if newest is not None:
        recent = select(Rating.id).order_by(Rating.id.desc()).limit(newest)
        if rater_id is not None:
            recent = recent.where(Rating.rater_id == rater_id)
        stmt = stmt.where(Rating.id.in_(recent.scalar_subquery()))
    for rating, sample, version_name in session.execute(stmt):
        hidden = rater_id is not None and sample.rater_id != rater_id
        yield {
            "rating_id": rating.id,
            "sample_id": sample.id,
            "version_id": sample.version_id,
            "version_name": version_name,
            "rater_id": rating.rater_id,
            "score": rating.score,
            "rated_at": rating.updated_at.isoformat(),
            "seed": sample.seed,
            "index": sample.batch_index,
            "source": sample.source,
            # the export keeps its column name: files already written stay comparable
            "session_id": None if hidden else sample.rater_id,
            "image_sha256": sample.image_sha256,
            "sample_created_at": sample.created_at.isoformat(),
            "latent_dim": sample.latent_dim,
            "latent": [] if hidden else v.latent_from_bytes(sample.latent, sample.latent_dim).tolist(),
        }
