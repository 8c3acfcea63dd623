"""Room on disk: new images and fine-tunes pause before the disk fills, while ratings keep counting.

Why: every image shown is a database row (about 390 bytes with the shipped VAE on SQLite and 550 with the GAN,
benchmarks/disk_per_sample.py), every fine-tune a checkpoint of a few MB. Within the quotas one address may
ask for 1,200 images a minute and the deployment for 3,000: up to 2.4 GB a day of rows that a script can have
a shared studio write for nothing. A disk that fills takes more down than the studio (the machine's logs,
its other services), and SQLite then refuses every write, ratings too. So below a floor of free space
(`aigc serve --min-free-disk-mb`, default 500) the studio refuses new work with one line saying why (new
images, whatever shows them: Generate, the explorer's rated pictures, a fine-tune), while ratings of the
images it has stored (a few bytes each) still go through, and its owner reads it once in the server's log
(and once more when there is room again).

Checked: the SQLite database's folder and the folder fine-tunes write to (a PostgreSQL server's disk is its
administrator's). One `statvfs` per check, a few microseconds: no cache, so space freed counts at once.
"""

from __future__ import annotations

import argparse
import shutil
import threading
from pathlib import Path

from aigc.service.errors import StudioError, announce
from aigc.service.registry import sqlite_folder

MIN_FREE_MB = 500  # the default floor; a fine-tune's checkpoints and a day of a busy demo's rows fit in it


class DiskFloor:
    """Refuses new work (`check`) while any of `folders` has less than `min_free_mb` MB free; 0: never."""

    def __init__(self, folders: list[Path], min_free_mb: int = MIN_FREE_MB):
        self.folders = folders
        self.min_free_mb = min_free_mb
        self._short = False  # the last check found too little room (its line is logged once per change)
        self._lock = threading.Lock()

    @classmethod
    def where_written(cls, models_folder: Path, database_url: str) -> DiskFloor:
        """The floor of a studio: the folder its fine-tunes save to, and its SQLite database's folder."""
        folders = [models_folder] + [f for f in [sqlite_folder(database_url)] if f]
        return cls(folders)

    def lowest(self) -> tuple[Path, int] | None:
        """The folder with the least free space and its free bytes (None: no folder to read)."""
        readings = []
        for folder in self.folders:
            existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
            if existing is not None:
                readings.append((folder, shutil.disk_usage(existing).free))
        return min(readings, key=lambda r: r[1]) if readings else None

    def check(self) -> None:
        """StudioError when the disk is below the floor; logs the change (both ways) once."""
        if not self.min_free_mb:
            return
        reading = self.lowest()
        short = reading is not None and reading[1] < self.min_free_mb * 2**20
        with self._lock:
            changed, self._short = short != self._short, short
        if reading is None or not short:
            if changed:
                announce("disk space is above the floor again: new images and fine-tunes resume")
            return
        folder, free = reading
        mb = free // 2**20
        if changed:
            announce(
                f"warning: {folder} has {mb} MB free, under the floor of {self.min_free_mb} MB "
                "(--min-free-disk-mb): new images and fine-tunes are refused until there is room; ratings still count"
            )
        raise StudioError(
            f"The studio's disk is nearly full ({mb} MB free; it keeps {self.min_free_mb} MB): no new images or "
            "fine-tunes until its owner makes room. Ratings of the images it has already stored still count."
        )


def add_disk_floor_flag(parser: argparse.ArgumentParser) -> None:
    """`aigc serve --min-free-disk-mb N`."""
    parser.add_argument(
        "--min-free-disk-mb",
        type=int,
        default=MIN_FREE_MB,
        metavar="N",
        help=f"free space to keep where the studio writes (the SQLite database's folder, the models folder): under "
        f"it new images and fine-tunes are refused with one line and ratings still count (default {MIN_FREE_MB}; "
        "0: no floor)",
    )
