"""`aigc ratings export|stats` and `aigc db upgrade|current|check`.

The `aigc` command lives in aigc/cli.py; it calls `add_commands(subparsers)` to
mount these with its default database (`aigc.paths.database_url()`).
`python -m feedback_db.cli ...` runs them alone (tests, servers without the
engine); there `--db URL` is required, since this package knows no home folder.
Every sub-command sets `func(args) -> exit code`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from . import migrate
from .engine import create_store_engine, masked_url, normalize_url
from .errors import FeedbackError
from .export import FORMATS
from .store import FeedbackStore


def add_commands(subparsers: Any, default_db: str | None = None) -> None:
    """Register `ratings` (export, stats) and `db` (upgrade, current, check).

    `default_db` is the URL used when `--db` is left out; without one, `--db` is required.
    """
    ratings = subparsers.add_parser("ratings", help="export or summarise the collected ratings")
    ratings_sub = ratings.add_subparsers(dest="ratings_command", metavar="{export,stats}", required=True)

    export = ratings_sub.add_parser("export", help="write every rating with its sample and latent")
    _add_db_flag(export, default_db)
    export.add_argument("--format", choices=FORMATS, help="default: from --out's suffix, else csv")
    export.add_argument("--out", required=True, type=Path, help="file to write")
    export.set_defaults(func=cmd_export)

    stats = ratings_sub.add_parser("stats", help="samples, ratings and like rate per model version")
    _add_db_flag(stats, default_db)
    stats.add_argument("--json", action="store_true", help="one JSON object per version")
    stats.set_defaults(func=cmd_stats)

    db = subparsers.add_parser("db", help="manage the feedback database schema")
    db_sub = db.add_subparsers(dest="db_command", metavar="{upgrade,current,check}", required=True)

    upgrade = db_sub.add_parser("upgrade", help="migrate the database to the newest schema")
    _add_db_flag(upgrade, default_db)
    upgrade.add_argument("--revision", default="head", help="target revision (default: head)")
    upgrade.set_defaults(func=cmd_upgrade)

    current = db_sub.add_parser("current", help="print the database's schema revision")
    _add_db_flag(current, default_db)
    current.set_defaults(func=cmd_current)

    check = db_sub.add_parser("check", help="fail if the database and the code's schema differ")
    _add_db_flag(check, default_db)
    check.set_defaults(func=cmd_check)


def _add_db_flag(parser: argparse.ArgumentParser, default_db: str | None) -> None:
    if default_db:
        parser.add_argument(
            "--db", metavar="URL", default=default_db, help=f"database URL (default: {masked_url(default_db)})"
        )
    else:
        parser.add_argument("--db", metavar="URL", required=True, help="database URL, e.g. sqlite:///feedback.sqlite3")


def _fail(args: argparse.Namespace, message: str) -> int:
    """One line naming the command, exit 2, as every other `aigc` command's error (a schema check that finds
    differences exits 1: it ran, and said no)."""
    sub = getattr(args, "ratings_command", None) or getattr(args, "db_command", None) or ""
    print(f"aigc {getattr(args, 'command', 'db')} {sub}: error: {message}".replace("  ", " "), file=sys.stderr)
    return 2


def missing_sqlite_file(url: str | None) -> Path | None:
    """The file a SQLite URL names when it does not exist yet, else None (PostgreSQL, or a file that is there).

    Why: reading commands opened a mistyped path as a new database, created it empty, and reported
    "wrote 0 ratings", which reads as if every rating was lost."""
    if not url:
        return None
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None  # not a URL: the command's own open says so
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database).expanduser()
    return None if path.exists() else path


def _refuse_missing(args: argparse.Namespace) -> int | None:
    path = missing_sqlite_file(args.db)
    if path is None:
        return None
    return _fail(args, f"no database at {path} yet (a mistyped --db? the studio makes its own when it first starts)")


def cmd_export(args: argparse.Namespace) -> int:
    fmt = args.format or ("jsonl" if args.out.suffix.lower() in (".jsonl", ".json") else "csv")
    if (refused := _refuse_missing(args)) is not None:
        return refused
    try:
        with FeedbackStore(args.db) as store:
            n = store.export(fmt, args.out)
    except (FeedbackError, OSError, ValueError, SQLAlchemyError) as exc:
        return _fail(args, str(exc))
    print(f"wrote {n} ratings to {args.out} ({fmt})")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    if (refused := _refuse_missing(args)) is not None:
        return refused
    try:
        with FeedbackStore(args.db) as store:
            stats = store.stats_per_version()
    except (FeedbackError, ValueError, SQLAlchemyError) as exc:
        return _fail(args, str(exc))
    if args.json:
        for s in stats:
            print(json.dumps({**asdict(s), "like_rate": s.like_rate}))
        return 0
    header = f"{'id':>4}  {'version':<32} {'samples':>8} {'ratings':>8} {'likes':>6} {'dislikes':>8} {'like rate':>9}"
    print(header)
    for s in stats:
        rate = "-" if s.like_rate is None else f"{s.like_rate:.3f}"
        print(
            f"{s.version_id:>4}  {s.name[:32]:<32} {s.n_samples:>8} {s.n_ratings:>8} "
            f"{s.n_likes:>6} {s.n_dislikes:>8} {rate:>9}"
        )
    if not stats:
        print("(no model versions yet)")
    return 0


def _with_engine(url: str | None, work: Any) -> Any:
    engine = create_store_engine(normalize_url(url))
    try:
        return work(engine)
    finally:
        engine.dispose()


def cmd_upgrade(args: argparse.Namespace) -> int:
    try:
        revision = _with_engine(args.db, lambda e: migrate.upgrade(e, args.revision))
    except (FeedbackError, ValueError, SQLAlchemyError) as exc:
        return _fail(args, str(exc))
    print(f"database at revision {revision} ({masked_url(normalize_url(args.db))})")
    return 0


def cmd_current(args: argparse.Namespace) -> int:
    missing = missing_sqlite_file(args.db)
    if missing is not None:  # said, not created
        print(f"empty: no database file yet at {missing} (code head: {migrate.head_revision()})")
        return 0
    try:
        revision = _with_engine(args.db, migrate.current_revision)
    except (FeedbackError, ValueError, SQLAlchemyError) as exc:
        return _fail(args, str(exc))
    head = migrate.head_revision()
    print(f"{revision or 'empty'} (code head: {head})")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    if (refused := _refuse_missing(args)) is not None:
        return refused
    try:
        diffs = _with_engine(args.db, migrate.schema_differences)
    except (FeedbackError, ValueError, SQLAlchemyError) as exc:
        return _fail(args, str(exc))
    if diffs:
        for diff in diffs:
            print(migrate.describe_difference(diff))
        print(
            f"{len(diffs)} difference(s) between the database and the code's schema "
            "(`aigc db upgrade` brings an older database to the code's)",
            file=sys.stderr,
        )
        return 1
    print("database schema matches the code")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aigc", description="feedback database commands")
    add_commands(parser.add_subparsers(dest="command", metavar="{ratings,db}", required=True))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
