"""Model versions and their lineage (a version, its parent, its parent's parent...).

Functions here take an open Session inside the caller's transaction; the store
decides where transactions begin and end.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from . import validate as v
from .errors import Conflict, NotFound
from .records import VersionInfo
from .schema import ModelVersion, utcnow

RETIRED_SHA_CHARS = 8  # `fashion-gan@98dd59a4`: the retired version's name ends with this much of its sha256


def to_info(row: ModelVersion) -> VersionInfo:
    return VersionInfo(
        id=row.id,
        name=row.name,
        kind=row.kind,
        parent_id=row.parent_id,
        checkpoint_path=row.checkpoint_path,
        checkpoint_sha256=row.checkpoint_sha256,
        dataset=row.dataset,
        latent_dim=row.latent_dim,
        created_at=row.created_at,
        metrics=dict(row.metrics or {}),
        config=dict(row.config or {}),
        owner=row.owner,
        published=bool(row.published),
        retired_at=row.retired_at,
    )


def require(session: Session, version_id: int) -> ModelVersion:
    row = session.get(ModelVersion, version_id)
    if row is None:
        raise NotFound(f"model version {version_id} does not exist")
    return row


def register(
    session: Session,
    *,
    name: str,
    kind: str,
    checkpoint_path: str,
    checkpoint_sha256: str,
    dataset: str | None,
    parent_id: int | None,
    metrics: dict[str, Any],
    config: dict[str, Any],
    latent_dim: int | None,
    owner: str | None = None,
    published: bool = True,
) -> VersionInfo:
    """Insert a version, or return the existing one with the same name and sha256."""
    existing = session.scalars(select(ModelVersion).where(ModelVersion.name == name)).one_or_none()
    if existing is not None:
        if existing.checkpoint_sha256 != checkpoint_sha256:
            raise Conflict(
                f"model version {name!r} already exists with another checkpoint "
                f"(sha256 {existing.checkpoint_sha256[:12]}…, not {checkpoint_sha256[:12]}…); "
                "choose a new name"
            )
        return to_info(existing)
    if parent_id is not None:
        parent = require(session, parent_id)
        if parent.kind != kind:
            raise Conflict(f"a {kind} cannot descend from {parent.name!r}, a {parent.kind}")
    row = ModelVersion(
        name=name,
        kind=kind,
        parent_id=parent_id,
        checkpoint_path=checkpoint_path,
        checkpoint_sha256=checkpoint_sha256,
        dataset=dataset,
        latent_dim=latent_dim,
        metrics=metrics,
        config=config,
        owner=owner,
        published=published,
    )
    session.add(row)
    session.flush()
    return to_info(row)


def _retired_prefix(name: str, sha256: str) -> str:
    """`name@<first 8 of sha256>`, the name cut short enough for a counter to fit in the column."""
    tail = f"@{sha256[:RETIRED_SHA_CHARS]}"
    return name[: v.MAX_NAME_LEN - len(tail) - 4] + tail


def retired_name(session: Session, name: str, sha256: str) -> str:
    """A free name for the version `name` whose checkpoint had `sha256`: `name@<sha[:8]>` (`-2`, `-3`... if taken)."""
    prefix = _retired_prefix(name, sha256)
    taken = set(session.scalars(select(ModelVersion.name).where(ModelVersion.name.startswith(prefix, autoescape=True))))
    candidate, n = prefix, 1
    while candidate in taken:
        n += 1
        candidate = f"{prefix}-{n}"
    return candidate


def retire(session: Session, name: str, sha256: str) -> VersionInfo | None:
    """Retire the version `name` whose checkpoint has `sha256`: its file was replaced by another under the name.

    The row keeps its id (its samples, ratings, comparisons, runs and children keep pointing at it), is
    renamed `name@<first 8 of sha256>` and gets `retired_at`, so the name is free for the new file.
    Idempotent: if `name` is no longer that checkpoint (another process retired it first), the row
    already retired for that sha256 is returned unchanged (None if there is none).
    """
    row = session.scalars(select(ModelVersion).where(ModelVersion.name == name)).one_or_none()
    if row is not None and row.checkpoint_sha256 == sha256:
        row.name = retired_name(session, name, sha256)
        row.retired_at = utcnow()
        session.flush()
        return to_info(row)
    done = session.scalars(
        select(ModelVersion)
        .where(ModelVersion.name.startswith(_retired_prefix(name, sha256), autoescape=True))
        .where(ModelVersion.checkpoint_sha256 == sha256)
        .where(ModelVersion.retired_at.is_not(None))
        .order_by(ModelVersion.id.desc())
    ).first()
    return None if done is None else to_info(done)


def get(session: Session, name_or_id: str | int) -> VersionInfo | None:
    if isinstance(name_or_id, str):
        row = session.scalars(select(ModelVersion).where(ModelVersion.name == name_or_id)).one_or_none()
    else:
        row = session.get(ModelVersion, v.row_id(name_or_id, "version id"))
    return None if row is None else to_info(row)


def list_all(session: Session) -> list[VersionInfo]:
    return [to_info(r) for r in session.scalars(select(ModelVersion).order_by(ModelVersion.id))]


def lineage_ids(session: Session, version_id: int) -> list[int]:
    """The version's id, then its parent's, and so on up to the root: one
    recursive query rather than one round trip per generation."""
    require(session, version_id)
    tree = (
        select(ModelVersion.id, ModelVersion.parent_id)
        .where(ModelVersion.id == version_id)
        .cte("lineage", recursive=True)
    )
    parent = aliased(ModelVersion)
    tree = tree.union_all(select(parent.id, parent.parent_id).join(tree, parent.id == tree.c.parent_id))
    # Parents are always registered before their children, so ids only decrease
    # going up the tree: ordering by id descending gives self, parent, grandparent...
    return list(session.scalars(select(tree.c.id).order_by(tree.c.id.desc())))


def lineage(session: Session, version_id: int) -> list[VersionInfo]:
    ids = lineage_ids(session, version_id)
    rows = {r.id: r for r in session.scalars(select(ModelVersion).where(ModelVersion.id.in_(ids)))}
    return [to_info(rows[i]) for i in ids]


def update_metrics(session: Session, version_id: int, metrics: dict[str, Any]) -> VersionInfo:
    """Merge `metrics` into the stored ones (new keys win): evaluations add up over time."""
    row = require(session, version_id)
    row.metrics = {**(row.metrics or {}), **metrics}
    session.flush()
    return to_info(row)


def set_published(session: Session, name_or_id: str | int, published: bool) -> VersionInfo:
    """Publish a version to every visitor (or take it back to its owner and admins)."""
    found = get(session, name_or_id)
    if found is None:
        raise NotFound(f"model version {name_or_id!r} does not exist")
    row = require(session, found.id)
    row.published = bool(published)
    session.flush()
    return to_info(row)


def latent_dim_of(session: Session, row: ModelVersion) -> int | None:
    """The latent size a version's samples must have: declared at registration,
    else from its config, else None (the first batch then fixes it)."""
    if row.latent_dim is not None:
        return row.latent_dim
    value = (row.config or {}).get("latent_dim")
    return int(value) if isinstance(value, int) and value > 0 else None
