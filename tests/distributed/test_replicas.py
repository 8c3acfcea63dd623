"""Several app replicas on one PostgreSQL: `python app.py --db postgresql+psycopg://... --port P`, twice.

All state lives in the database, so a rating sent to either replica lands in the same tables, and
a version one replica's fine-tuning job registers shows up in the other's model list (it finds
the version row; the checkpoint path in it is readable on this machine, as on a shared volume).
"""

from __future__ import annotations

import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from aigc.data.datasets import synthetic_dataset
from feedback_db import FeedbackStore
from tests.tiny import train_tiny

from .conftest import ROOT, child_env, free_port

pytestmark = [pytest.mark.postgres, pytest.mark.integration, pytest.mark.timeout(600)]


@contextmanager
def replica(db_url: str, home: Path, models: Path, log: Path):
    """`python app.py --db URL --port P --models DIR` in its own process; yields its URL, always stopped."""
    port = free_port()
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "app.py"),
                "--db",
                db_url,
                "--port",
                str(port),
                "--models",
                str(models),
                "--threads",
                "1",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=child_env(home),
            cwd=home.parent,
        )
    try:
        yield proc, f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_until_up(proc: subprocess.Popen, url: str, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"replica exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    pytest.fail(f"replica at {url} not up after {timeout}s:\n{log.read_text()[-3000:]}")


def run_finetune_on(client, db_url: str, models: Path, home: Path, tmp_path: Path) -> str:
    """Fine-tune syn-vae on replica `client`; returns the child's name."""
    if "/finetune" in client.view_api(print_info=False, return_format="dict")["named_endpoints"]:
        client.predict("syn-vae", 10, "", api_name="/finetune")
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            status = client.predict("syn-vae", api_name="/finetune_status")
            if status["state"] in ("succeeded", "failed"):
                break
            time.sleep(0.5)
        assert status["state"] == "succeeded", status
        return status["child"]
    job = subprocess.run(
        [
            sys.executable,
            "-m",
            "aigc.cli",
            "finetune",
            "syn-vae",
            "--db",
            db_url,
            "--models",
            str(models),
            "--json-progress",
            "--threads",
            "1",
            "--steps",
            "10",
            "--batch-size",
            "32",
            "--eval-n",
            "32",
            "--name",
            "syn-vae-ft1",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=child_env(home),
        cwd=tmp_path,
    )
    assert job.returncode == 0, job.stderr[-3000:]
    return "syn-vae-ft1"


def test_two_replicas_share_ratings_and_versions_through_postgres(pg_url, home, tmp_path):
    from tests.app.helpers import api_client

    # the shipped-model folder both replicas see ($AIGC_HOME/models), and one private folder each
    shared, own_a, own_b = home / "models", tmp_path / "models-a", tmp_path / "models-b"
    for folder in (shared, own_a, own_b):
        folder.mkdir(parents=True)
    train_tiny("vae", synthetic_dataset(n=256), shared / "syn-vae.safetensors", 40, tmp_path / "run", hidden=32, seed=0)

    with ExitStack() as stack:  # both start at once on the empty database: migrations take a lock
        (proc_a, url_a), (proc_b, url_b) = (
            stack.enter_context(replica(pg_url, home, own, tmp_path / f"{name}.log"))
            for name, own in (("a", own_a), ("b", own_b))
        )
        wait_until_up(proc_a, url_a, tmp_path / "a.log")
        wait_until_up(proc_b, url_b, tmp_path / "b.log")
        a, b = api_client(url_a, download_files=False), api_client(url_b, download_files=False)

        # sample on both, rate every sample through the OTHER replica (a liked if its first latent is positive)
        _, info_a = a.predict("syn-vae", 12, 1, 0, api_name="/sample")
        _, info_b = b.predict("syn-vae", 12, 2, 0, api_name="/sample")
        ratings = []
        for client, info in ((b, info_a), (a, info_b)):
            for sample_id, z in zip(info["sample_ids"], info["latents"]):
                ratings.append(client.predict(sample_id, 1 if z[0] > 0 else -1, api_name="/rate"))
        with FeedbackStore(pg_url) as store:
            rows = store.ratings_for_lineage(store.get_version("syn-vae").id)
        assert sorted((r.sample_id, r.score) for r in rows) == sorted((r["sample_id"], r["score"]) for r in ratings)
        assert len(rows) == 24 and len({r["rater"] for r in ratings}) == 2  # one rater per client session
        for client in (a, b):
            stats = {s["version"]: s for s in client.predict(api_name="/stats")}
            assert stats["syn-vae"]["ratings"] == 24 and stats["syn-vae"]["samples"] == 24

        # replica A fine-tunes (its page's API when it has one, else the very command its background job runs);
        # the child goes into A's own folder
        child_name = run_finetune_on(a, pg_url, own_a, home, tmp_path)
        assert (own_a / f"{child_name}.safetensors").exists() and not list(own_b.iterdir())

        for client in (b, a):  # B knows it only from the database row
            models = {m["name"]: m for m in client.predict(api_name="/models")}
            assert models[child_name]["parent"] == "syn-vae" and models[child_name]["kind"] == "vae"
        _, child = b.predict(child_name, 2, 0, 0, api_name="/sample")
        assert len(child["sample_ids"]) == 2
