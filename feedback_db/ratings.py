"""Ratings and blind comparisons: what people thought of the samples."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from . import validate as v
from .errors import InvalidInput
from .records import ActivityItem, ComparisonInfo, ComparisonStats, RatedSample, RatingInfo
from .samples import require_ids
from .schema import Comparison, Rating, Sample, utcnow
from .versions import lineage_ids, require


def _upsert_statement(dialect: str) -> Any:
    """INSERT .. ON CONFLICT (sample, rater) DO UPDATE: one statement, so two
    concurrent ratings of the same pair can never both try to insert."""
    stmt: PgInsert | SqliteInsert
    if dialect == "postgresql":
        stmt = pg_insert(Rating)
    elif dialect == "sqlite":
        stmt = sqlite_insert(Rating)
    else:  # pragma: no cover - only the two supported backends reach here
        raise NotImplementedError(f"rating upsert is not implemented for {dialect}")
    return stmt.on_conflict_do_update(
        index_elements=[Rating.sample_id, Rating.rater_id],
        set_={"score": stmt.excluded.score, "updated_at": stmt.excluded.updated_at},
    ).returning(Rating.id, Rating.sample_id, Rating.rater_id, Rating.score, Rating.created_at, Rating.updated_at)


def rate(session: Session, sample_id: int, score: float, rater_id: str) -> RatingInfo:
    """Upsert. No existence check first: the foreign key refuses an unknown
    sample (the store turns that into NotFound), one round trip fewer per rating."""
    now = utcnow()
    stmt = _upsert_statement(session.get_bind().dialect.name).values(
        sample_id=sample_id, rater_id=rater_id, score=score, created_at=now, updated_at=now
    )
    row = session.execute(stmt).one()
    return RatingInfo(
        id=row.id,
        sample_id=row.sample_id,
        rater_id=row.rater_id,
        score=float(row.score),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def for_lineage(session: Session, version_id: int, include_ancestors: bool) -> list[RatedSample]:
    ids = lineage_ids(session, version_id) if include_ancestors else [require(session, version_id).id]
    rows = session.execute(
        select(Rating, Sample)
        .join(Sample, Rating.sample_id == Sample.id)
        .where(Sample.version_id.in_(ids))
        .order_by(Rating.id)
    ).all()
    return [
        RatedSample(
            sample_id=s.id,
            version_id=s.version_id,
            latent=v.latent_from_bytes(s.latent, s.latent_dim),
            score=r.score,
            rater_id=r.rater_id,
            seed=s.seed,
            index=s.batch_index,
            source=s.source,
            rated_at=r.updated_at,
        )
        for r, s in rows
    ]


def recent_activity(session: Session, rater_id: str, limit: int, rated_only: bool = False) -> list[ActivityItem]:
    """Samples this person made or rated (`rated_only`: rated), newest activity first."""
    mine = aliased(Rating)
    activity = func.coalesce(mine.updated_at, Sample.created_at)
    rows = session.execute(
        select(Sample, mine.score, mine.updated_at)
        .outerjoin(mine, and_(mine.sample_id == Sample.id, mine.rater_id == rater_id))
        .where(mine.id.is_not(None) if rated_only else or_(Sample.rater_id == rater_id, mine.id.is_not(None)))
        .order_by(activity.desc(), Sample.id.desc())
        .limit(limit)
    ).all()
    return [
        ActivityItem(
            sample_id=s.id,
            version_id=s.version_id,
            seed=s.seed,
            index=s.batch_index,
            source=s.source,
            created_at=s.created_at,
            score=score,
            rated_at=rated_at,
        )
        for s, score, rated_at in rows
    ]


def record_comparison(session: Session, left: int, right: int, picked: int | None, rater_id: str) -> ComparisonInfo:
    if left == right:
        raise InvalidInput("a comparison needs two different samples")
    if picked is not None and picked not in (left, right):
        raise InvalidInput(f"picked sample {picked} is neither of the two shown ({left}, {right})")
    require_ids(session, [left, right])
    row = Comparison(left_sample_id=left, right_sample_id=right, picked_sample_id=picked, rater_id=rater_id)
    session.add(row)
    session.flush()
    return _comparison_info(row)


def _comparison_info(c: Comparison) -> ComparisonInfo:
    return ComparisonInfo(
        id=c.id,
        left_sample_id=c.left_sample_id,
        right_sample_id=c.right_sample_id,
        picked_sample_id=c.picked_sample_id,
        rater_id=c.rater_id,
        created_at=c.created_at,
    )


def comparisons(session: Session, rater_id: str | None, limit: int) -> list[ComparisonInfo]:
    """Stored blind picks (only `rater_id`'s if given), newest first."""
    stmt = select(Comparison).order_by(Comparison.id.desc()).limit(limit)
    if rater_id is not None:
        stmt = stmt.where(Comparison.rater_id == rater_id)
    return [_comparison_info(c) for c in session.scalars(stmt)]


def comparison_stats(session: Session, parent_id: int, child_id: int) -> ComparisonStats:
    """Count picks between samples of the two versions (either side, either order)."""
    require(session, parent_id)
    require(session, child_id)
    left, right, picked = aliased(Sample), aliased(Sample), aliased(Sample)
    pair = [parent_id, child_id]
    row = session.execute(
        select(
            func.count(case((picked.version_id == child_id, 1))),
            func.count(case((picked.version_id == parent_id, 1))),
            func.count(case((Comparison.picked_sample_id.is_(None), 1))),
        )
        .select_from(Comparison)
        .join(left, Comparison.left_sample_id == left.id)
        .join(right, Comparison.right_sample_id == right.id)
        .outerjoin(picked, Comparison.picked_sample_id == picked.id)
        .where(left.version_id.in_(pair), right.version_id.in_(pair), left.version_id != right.version_id)
    ).one()
    return ComparisonStats(parent_id, child_id, wins=row[0], losses=row[1], ties=row[2])
