"""Samples: the latent vectors people were shown, recorded in bulk."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from . import validate as v
from .errors import InvalidInput, NotFound
from .records import SampleInfo
from .schema import ModelVersion, Sample, utcnow
from .versions import latent_dim_of, require


def to_info(row: Sample) -> SampleInfo:
    return SampleInfo(
        id=row.id,
        version_id=row.version_id,
        seed=row.seed,
        index=row.batch_index,
        latent=v.latent_from_bytes(row.latent, row.latent_dim),
        source=row.source,
        rater_id=row.rater_id,
        image_sha256=row.image_sha256,
        created_at=row.created_at,
    )


def record(
    session: Session,
    *,
    version_id: int,
    latents: np.ndarray,
    seed: int,
    source: str,
    rater_id: str | None,
    image_sha256s: list[str | None],
    start_index: int,
) -> list[int]:
    """Insert one row per latent (already validated) in one statement; ids in order."""
    version = require(session, version_id)
    dim = int(latents.shape[1])
    _fix_latent_dim(session, version, dim)
    now = utcnow()
    rows = [
        {
            "version_id": version_id,
            "seed": seed,
            "batch_index": start_index + i,
            "latent": v.latent_to_bytes(latent),
            "latent_dim": dim,
            "source": source,
            "rater_id": rater_id,
            "image_sha256": image_sha256s[i],
            "created_at": now,
        }
        for i, latent in enumerate(latents)
    ]
    stmt = insert(Sample).returning(Sample.id, sort_by_parameter_order=True)
    return list(session.scalars(stmt, rows))


def _fix_latent_dim(session: Session, version: ModelVersion, dim: int) -> None:
    """Refuse a dimension other than the version's; the first batch sets it.

    The conditional UPDATE makes the first-batch race safe: the second writer
    re-reads the value the first one committed and is refused if it differs.
    """
    expected = latent_dim_of(session, version)
    if expected is None:
        session.execute(
            update(ModelVersion)
            .where(ModelVersion.id == version.id, ModelVersion.latent_dim.is_(None))
            .values(latent_dim=dim)
            .execution_options(synchronize_session=False)
        )
        expected = session.scalar(select(ModelVersion.latent_dim).where(ModelVersion.id == version.id))
    if expected != dim:
        raise InvalidInput(f"latents have dimension {dim}, version {version.name!r} expects {expected}")


def get(session: Session, sample_id: int) -> SampleInfo:
    row = session.get(Sample, sample_id)
    if row is None:
        raise NotFound(f"sample {sample_id} does not exist")
    return to_info(row)


def get_many(session: Session, ids: Iterable[int]) -> list[SampleInfo]:
    """Samples in the order asked for; any missing id is an error, not a gap."""
    ids = list(ids)
    if not ids:
        return []
    found: dict[int, Sample] = {}
    unique = sorted(set(ids))
    for start in range(0, len(unique), 500):  # stay under bind-parameter limits
        chunk = unique[start : start + 500]
        found.update({r.id: r for r in session.scalars(select(Sample).where(Sample.id.in_(chunk)))})
    missing = [i for i in unique if i not in found]
    if missing:
        if len(missing) == 1:  # the words every other lookup uses
            raise NotFound(f"sample {missing[0]} does not exist")
        raise NotFound(f"samples {', '.join(map(str, missing[:10]))}{'…' if len(missing) > 10 else ''} do not exist")
    return [to_info(found[i]) for i in ids]


def require_ids(session: Session, ids: Iterable[int]) -> dict[int, int]:
    """Map each sample id to its version id; NotFound if any is missing."""
    unique = sorted(set(ids))
    rows = session.execute(select(Sample.id, Sample.version_id).where(Sample.id.in_(unique))).all()
    found = {sid: vid for sid, vid in rows}
    missing = [i for i in unique if i not in found]
    if missing:
        raise NotFound(f"sample {missing[0]} does not exist")
    return found
