"""Hold a child Python process at start-up until the test opens the gate: a handshake, not a race.

"A second fine-tune of the same model is refused while the first runs" can only be checked while the
first is certainly running. Waiting a while and hoping it has not finished yet depends on the speed of
the machine; holding the child does not. Inside `held_children()`, every Python process started with
this process's environment runs `sitecustomize.py` from the gate folder first: it announces itself
(`<gate>.held-<pid>`) and waits until the test deletes the gate file, then carries on as normal.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SITECUSTOMIZE = """\
import os, time
_gate = os.environ.get("AIGC_TEST_GATE")
if _gate:
    open(f"{_gate}.held-{os.getpid()}", "w").close()
    while os.path.exists(_gate):
        time.sleep(0.02)
"""


@dataclass
class Gate:
    path: Path

    def held(self) -> list[Path]:
        """The children that have reached the gate (and wait there while it is closed)."""
        return sorted(self.path.parent.glob(f"{self.path.name}.held-*"))

    def wait_for_child(self, timeout: float = 120.0) -> None:
        """Block until a child is at the gate: after this it cannot finish until `open()`."""
        deadline = time.monotonic() + timeout
        while not self.held():
            assert time.monotonic() < deadline, "no child process reached the gate (was the environment passed on?)"
            time.sleep(0.02)

    def open(self) -> None:
        self.path.unlink(missing_ok=True)


@contextmanager
def held_children(folder: Path) -> Iterator[Gate]:
    """Python children started inside the block wait at start-up until `gate.open()` (always opened on exit).

    Only the environment of children started inside the block carries the gate; it is restored afterwards.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE)
    gate = Gate(folder / "gate")
    gate.path.touch()
    saved = {key: os.environ.get(key) for key in ("PYTHONPATH", "AIGC_TEST_GATE")}
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(folder), saved["PYTHONPATH"]]))
    os.environ["AIGC_TEST_GATE"] = str(gate.path)
    try:
        yield gate
    finally:
        gate.open()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
