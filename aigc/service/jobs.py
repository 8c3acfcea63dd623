"""Fine-tuning runs in the background, in their own process, with their own thread budget.

Serving and training on the same two cores slow each other down up to 100-fold when both use
every core. A separate process (`aigc finetune --json-progress --threads T`) gives training its
own budget, keeps the page's slider endpoint live, and means a crash of the run cannot take the
page down. Its JSON-lines progress is read by a thread here; the page polls `status`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from aigc import paths

STDERR_TAIL_LINES = 200  # a failed run's message is its last stderr line; keep a little context, not megabytes


@dataclass
class JobStatus:
    model: str
    state: str = "idle"  # idle | running | succeeded | failed
    stage: str = ""
    progress: float = 0.0
    message: str = ""
    child: str | None = None
    metrics: dict = field(default_factory=dict)
    started: float = 0.0
    finished: float = 0.0

    @property
    def active(self) -> bool:
        return self.state == "running"


class FinetuneJobs:
    """At most one background run per model; statuses kept for the page to poll."""

    def __init__(self, db_url: str, models_dir: str | None, on_done=None, threads: int = 1):
        self.db_url = db_url
        self.models_dir = models_dir
        self.threads = threads
        self.on_done = on_done or (lambda status: None)
        self.launcher = [sys.executable, "-m", "aigc.cli"]  # what runs `finetune ...`; tests swap in a stand-in
        self._jobs: dict[str, JobStatus] = {}
        self._procs: dict[str, subprocess.Popen] = {}
        self._lock = threading.Lock()

    def status(self, model: str) -> JobStatus:
        with self._lock:
            return self._jobs.get(model) or JobStatus(model)

    def start(
        self, model: str, steps: int | None = None, rater: str | None = None, extra_args: list[str] | None = None
    ) -> JobStatus:
        with self._lock:
            current = self._jobs.get(model)
            if current and current.active:
                raise RuntimeError(
                    f"a fine-tuning run of {model} is already running ({current.stage}, {current.progress:.0%})"
                )
            cmd = [
                "finetune",
                model,
                "--json-progress",
                "--threads",
                str(self.threads),
            ]
            if self.models_dir:
                cmd += ["--models", str(self.models_dir)]
            if steps:
                cmd += ["--steps", str(int(steps))]
            if rater:
                cmd += ["--rater", rater]
            cmd += extra_args or []
            env = {
                **paths.child_env(),  # the resolved home: a relative $AIGC_HOME means the same folder in the child
                paths.DB_URL_ENV: self.db_url,  # never on the command line: `ps` shows it to every user
                "OMP_NUM_THREADS": str(self.threads),
                "PYTHONUNBUFFERED": "1",
            }
            proc = subprocess.Popen(
                [*self.launcher, *cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
            )
            status = JobStatus(model, "running", "starting", 0.0, "starting…", started=time.time())
            self._jobs[model], self._procs[model] = status, proc
        threading.Thread(target=self._follow, args=(model, proc), daemon=True, name=f"finetune-{model}").start()
        return status

    def _follow(self, model: str, proc: subprocess.Popen) -> None:
        final: dict = {}
        # stderr is drained by its own thread while stdout is read here: a child that fills the stderr
        # pipe (~64 kB of warnings) would otherwise block on write while we wait for stdout to close.
        tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        drain = threading.Thread(target=tail.extend, args=(proc.stderr,), daemon=True, name=f"finetune-{model}-err")
        drain.start()
        for line in proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            with self._lock:
                status = self._jobs[model]
                if "stage" in event:
                    status.stage, status.progress = event["stage"], float(event.get("progress", status.progress))
                    status.message = _describe(event)
                if "child" in event:
                    final = event
        code = proc.wait()
        drain.join()
        stderr = "".join(tail)
        with self._lock:
            status = self._jobs[model]
            status.finished = time.time()
            if code == 0 and final:
                status.state, status.stage, status.progress = "succeeded", "done", 1.0
                status.child = final["child"]
                status.metrics = {k: v for k, v in final.items() if isinstance(v, (int, float))}
                status.message = f"new version {status.child}"
            else:
                status.state = "failed"
                lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
                status.message = lines[-1] if lines else f"fine-tuning process exited with code {code}"
            self._procs.pop(model, None)
        self.on_done(status)

    def wait(self, model: str, timeout: float = 600.0) -> JobStatus:
        deadline = time.time() + timeout
        while self.status(model).active and time.time() < deadline:
            time.sleep(0.2)
        return self.status(model)

    def stop(self, model: str) -> None:
        """Terminate `model`'s run (a cancel); its follower thread reports the exit as usual."""
        with self._lock:
            proc = self._procs.get(model)
        if proc is not None:
            proc.terminate()

    def stop_all(self) -> None:
        with self._lock:
            procs = list(self._procs.values())
        for proc in procs:
            proc.terminate()


def _describe(event: dict) -> str:
    stage = event["stage"]
    if stage == "training" and "loss" in event:
        return f"training… loss {event['loss']:.3f}"
    if stage == "training" and "loss_g" in event:
        return f"training… G {event['loss_g']:.3f} / D {event['loss_d']:.3f}"
    if stage == "weights":
        return f"reward model cross-validated accuracy {event.get('cv_accuracy', 0):.0%}"
    return {"ratings": "reading ratings…", "evaluating": "measuring parent vs child…", "done": "done"}.get(stage, stage)
