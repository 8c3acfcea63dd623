"""How the whole suite runs: spread over two processes by pytest-xdist (`-n 2 --dist loadfile` in addopts).

The suite is mostly single-threaded and the machine it must stay fast on has two cores, so the default
run uses both. The unit of work a process takes is a test file, so module fixtures are built once,
except that tests/app and tests/loop are one unit each: their session fixtures (an app started on tiny
models; models trained for fine-tuning) are then built once, not once per process. Models that session
fixtures train are also shared on disk (`tests/tiny.py: built_once`), whichever process builds them.
`-n 0` runs everything in this process (for a debugger, or one quick test without starting workers).
"""

from __future__ import annotations

import os
import sys

import pytest

# Cache compiled modules even where the environment says not to (PYTHONDONTWRITEBYTECODE=1, as on the
# project's CI machines): otherwise every run recompiles the project and pytest re-rewrites every test
# module, in each worker: ~3 s of the fast suite's minute. The caches are __pycache__ folders git ignores.
sys.dont_write_bytecode = False

# One torch thread per process, set before anything imports torch: two workers on two cores, each with
# torch's default of one thread per core, spend their time waiting for each other (tiny models gain
# nothing from threads). A test that is about threads sets its own count.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Servers started by tests do not warm the reward features in the background (aigc_ui.server --warm-up):
# 60,000 images embedded beside the tests would slow them; tests/loop/test_warm_up.py tests the warm-up.
os.environ.setdefault("AIGC_WARM_UP", "0")

SHARED_SESSION_FOLDERS = {"app", "loop"}


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """`--dist loadfile`, with the two folders above kept whole (xdist's loadgroup marks do not work with
    pytest 9, which ignores the node ids xdist rewrites)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class FileOrSharedFolder(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            parts = path.split("/")
            return "/".join(parts[:-1]) if len(parts) > 1 and parts[-2] in SHARED_SESSION_FOLDERS else path

    return FileOrSharedFolder(config, log)
