"""Export files (CSV, JSON Lines) and reading them back.

Latents are written as JSON lists of float32 values; float32 → Python float →
JSON text → float → float32 is exact, so an export round-trips bit for bit.
CSV keeps one rating per row with the latent as a JSON list in one cell, so
spreadsheets open it and pandas reads it.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .errors import InvalidInput
from .reports import EXPORT_FIELDS

FORMATS = ("csv", "jsonl")
_INT_FIELDS = ("rating_id", "sample_id", "version_id", "seed", "index", "latent_dim")


def write(rows: Iterable[dict[str, Any]], fmt: str, out_path: str | Path) -> int:
    """Write rows atomically (temp file + rename): a failed export never leaves
    a truncated file where a good one was. Returns the number of rows."""
    if fmt not in FORMATS:
        raise InvalidInput(f"export format must be one of {FORMATS}, got {fmt!r}")
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    n = 0
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            if fmt == "csv":
                writer = csv.DictWriter(fh, fieldnames=EXPORT_FIELDS)
                writer.writeheader()
                for row in rows:
                    writer.writerow({**row, "latent": json.dumps(row["latent"])})
                    n += 1
            else:
                for row in rows:
                    fh.write(json.dumps(row, allow_nan=False) + "\n")
                    n += 1
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return n


def read(path: str | Path) -> Iterator[dict[str, Any]]:
    """Read an export back into the same dicts `write` was given (format by suffix)."""
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as fh:
        if path.suffix.lower() == ".csv":
            for row in csv.DictReader(fh):
                yield _typed_csv_row(row)
        else:
            for line in fh:
                if line.strip():
                    yield json.loads(line)


def _typed_csv_row(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {k: (None if v == "" else v) for k, v in row.items()}
    for key in _INT_FIELDS:
        out[key] = int(row[key])
    out["score"] = float(row["score"])
    out["latent"] = json.loads(row["latent"])
    return out
