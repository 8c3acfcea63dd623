"""Fixtures for the scale-out tests: torchrun launches on 2 CPU processes, app replicas on one PostgreSQL.

Data-parallel runs go through the real launcher (`python -m torch.distributed.run`, i.e. torchrun)
with OMP_NUM_THREADS=1, on loopback with a free port. `rank_worker.py` runs the real `aigc` CLI and
also dumps every rank's final weights, so the ranks can be compared directly.

PostgreSQL comes from $AIGC_TEST_PG_URL (`eval "$(bash .ci/start_postgres.sh)"`). Without it the
replica test skips on a developer's machine but FAILS in CI (CI=true), as in tests/db.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(home: Path, **extra: str) -> dict[str, str]:
    """What every child process gets: one thread, a private AIGC_HOME, no downloads, the repo importable."""
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "AIGC_HOME": str(home),
        "AIGC_NO_DOWNLOAD": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "PYTHONUNBUFFERED": "1",
        # a rank that aborts (a C++ "terminate called ...", once in ~50 CI runs, never reproduced here) prints
        # every thread's Python stack, so the failing run says where it was
        "PYTHONFAULTHANDLER": "1",
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("AIGC_DATA_DIR", None)
    env.update(extra)
    return env


def torchrun(
    argv: list[str], dump: Path, home: Path, nproc: int = 2, timeout: float = 240
) -> subprocess.CompletedProcess:
    """`torchrun --nproc_per_node N rank_worker.py DUMP aigc-args...` on loopback; fails the test on a non-zero exit."""
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        str(nproc),
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(free_port()),
        str(HERE / "rank_worker.py"),
        str(dump),
        *argv,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=child_env(home), cwd=home.parent)
    assert proc.returncode == 0, f"torchrun failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc


def json_lines(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
    return out


def read_weights(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Tensors and record of a checkpoint, read with safetensors directly."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), "pt") as f:
        meta = f.metadata() or {}
    return load_file(str(path)), json.loads(meta["aigc"]) if "aigc" in meta else {}


def as_module(path: Path) -> torch.nn.Module:
    from aigc.models.checkpoint import CheckpointRecord, build_model

    tensors, record = read_weights(path)
    model = build_model(CheckpointRecord(**record))
    model.load_state_dict({k.removeprefix("model."): v for k, v in tensors.items()})
    return model.eval()


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("AIGC_HOME", str(path))
    monkeypatch.setenv("AIGC_NO_DOWNLOAD", "1")
    monkeypatch.delenv("AIGC_DATA_DIR", raising=False)
    return path


@pytest.fixture(scope="session")
def pg_base_url() -> str:
    """The PostgreSQL server's URL; skip (developer) or fail (CI) when there is none."""
    from feedback_db.testing import require_server_url

    return require_server_url("the replica test")


@pytest.fixture
def pg_url(pg_base_url: str):
    """A fresh, empty PostgreSQL database for one test (the replicas migrate it)."""
    from feedback_db.testing import temporary_postgres_database

    with temporary_postgres_database(pg_base_url, prefix="aigc_dist") as url:
        yield url
