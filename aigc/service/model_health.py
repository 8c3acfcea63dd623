"""Checkpoint health: which files in the models folders cannot be served, why, and what to do about them.

Why a module of its own: a truncated, pickled or foreign `.safetensors` in `$AIGC_HOME/models` used to be
skipped silently; worse, being first in the look-up order it hid the shipped model of the same name
("unknown model"), and a 400 MB broken file was read again on every page load. Here every load attempt
goes through `CheckpointHealth.load`, which remembers each refusal by (path, size, mtime): the same bad
file is named in the log once and never re-read until it changes, and the studio falls through to the
next file of that name. The page lists `problems()` on the Feedback & models tab.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aigc.models.checkpoint import CheckpointError

log = logging.getLogger("aigc.models")

FileKey = tuple[int, int]  # (size, mtime_ns): a file that changed gets a fresh look


@dataclass(frozen=True)
class BadCheckpoint:
    """A file that was not served: its model name, where it is, what is wrong and what to do."""

    name: str
    path: Path
    problem: str
    advice: str
    replaced_by: Path | None = None  # the file of the same name served instead, if any

    def line(self) -> str:
        instead = f" Serving {self.replaced_by} instead." if self.replaced_by else ""
        return f"{self.path}: {self.problem}. {self.advice}.{instead}"


def advice_for(problem: str) -> str:
    """What a person can do about a refused checkpoint, from the loader's message."""
    text = problem.lower()
    if "pickle" in text or "torch.save" in text:
        return "Re-save the weights with safetensors (AIGC Studio never unpickles), or move the file out of the folder"
    if "not an aigc studio checkpoint" in text or "unknown model kind" in text:
        return "It is not a model this studio can serve: move it out of the models folder"
    if "does not fit" in text or "do not match the config" in text:
        return "It was written by another version of AIGC Studio: retrain it or move it out of the models folder"
    if "no such" in text or "missing" in text:
        return "Restore the file from a backup; until then this version cannot be served"
    return "The file is damaged (truncated or corrupt): copy it again or delete it"


def _key(path: Path) -> FileKey | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


class CheckpointHealth:
    """Load attempts with a memory: refusals are cached by path + size + mtime and logged once each."""

    def __init__(self) -> None:
        self._verdicts: dict[Path, tuple[FileKey | None, BadCheckpoint | None]] = {}  # None: loads, not servable
        self._lock = threading.Lock()

    def load(self, name: str, path: Path, loader: Callable[[Path], Any]) -> Any | None:
        """`loader(path)`, or None when the file is known bad (unchanged since) or fails now."""
        path = Path(path)
        key = _key(path)
        with self._lock:
            cached = self._verdicts.get(path)
        if cached is not None and cached[0] == key:
            return None  # refused before and unchanged: not read again
        try:
            if key is None:
                raise CheckpointError(f"{path}: no such checkpoint file (it was moved or deleted)")
            return loader(path)
        except CheckpointError as exc:
            problem = str(exc).removeprefix(f"{path}: ").rstrip(".")
            bad = BadCheckpoint(name, path, problem, advice_for(problem))
            with self._lock:
                self._verdicts[path] = (key, bad)
            log.warning("checkpoint not served: %s", bad.line())
            return None

    def refuse(self, name: str, path: Path, problem: str, advice: str) -> None:
        """Record a file that loads but must not be served (e.g. another checkpoint under a registered name)."""
        path = Path(path)
        bad = BadCheckpoint(name, path, problem.rstrip("."), advice)
        with self._lock:
            self._verdicts[path] = (_key(path), bad)
        log.warning("checkpoint not served: %s", bad.line())

    def skip(self, path: Path) -> None:
        """Remember a readable file that is not servable (a classifier): not read again until it changes."""
        with self._lock:
            self._verdicts[Path(path)] = (_key(Path(path)), None)

    def known_bad(self, path: Path) -> bool:
        with self._lock:
            cached = self._verdicts.get(Path(path))
        return cached is not None and cached[0] == _key(Path(path))

    def forget(self, path: Path) -> None:
        with self._lock:
            self._verdicts.pop(Path(path), None)

    def problems(self, served: dict[str, Path] | None = None) -> list[BadCheckpoint]:
        """Every file refused and still unchanged on disk, with the file served instead of it (if any)."""
        served = served or {}
        out = []
        with self._lock:
            verdicts = list(self._verdicts.items())
        for path, (key, bad) in verdicts:
            if bad is None or (key is not None and _key(path) != key):
                continue
            other = served.get(bad.name)
            out.append(
                BadCheckpoint(bad.name, bad.path, bad.problem, bad.advice, other if other and other != path else None)
            )
        return sorted(out, key=lambda b: (b.name, str(b.path)))


def same_file(a: os.PathLike | str, b: os.PathLike | str) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False
