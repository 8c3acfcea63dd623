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
from dataclasses import dataclass, field, replace

from aigc import paths

STDERR_TAIL_LINES = 200  # a failed run's message is its last stderr line; keep a little context, not megabytes


# The stages of a run, in the order `aigc.feedback.finetune` reports them, in plain words for the bar.
STAGES = {
    "starting": "starting",
    "ratings": "reading ratings",
    "embedding": "embedding the rated images",
    "reward": "fitting the reward model",
    "parent_tilt": "choosing the parent's draws the taste favours, to train on",  # a GAN's, before training
    "weights": "weighting the training data by the reward model",
    "training": "training",
    "prior": "fitting the child's latent prior",
    "tilt": "steering the child's latent prior towards the taste",
    "evaluating": "measuring parent vs child",
    "publishing": "publishing the new version",
    "published": "new version registered",
    "done": "done",
}


def failure_line(stderr: str, code: int) -> str:
    """Why a run's process failed, for the page ("Fine-tuning failed: …"): its last stderr line without the
    command's own "aigc finetune: error:" prefix, which would say it twice."""
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    last = lines[-1].removeprefix("aigc finetune: ").removeprefix("error: ") if lines else ""
    return last or f"fine-tuning process exited with code {code}"


@dataclass
class JobStatus:
    """What a page needs to draw a run's progress honestly: the stage, how long it has run and how long is left."""

    model: str
    state: str = "idle"  # idle | running | succeeded | failed
    stage: str = ""
    progress: float = 0.0
    message: str = ""
    child: str | None = None  # set the moment the child is registered, before the process has exited
    metrics: dict = field(default_factory=dict)
    started: float = 0.0
    finished: float = 0.0
    step: int = 0  # training step k of `steps` (0 before and outside training)
    steps: int = 0
    eta_s: float | None = None  # seconds left as estimated at `updated`; None: too early to tell
    updated: float = 0.0  # when the last progress event arrived
    stages: list[str] = field(default_factory=list)  # every stage seen so far, in order
    training_since: tuple[float, float] | None = None  # (time, progress) when training began: the estimate's base

    @property
    def active(self) -> bool:
        return self.state == "running"

    def elapsed_s(self, now: float | None = None) -> float:
        """Seconds since the run started (until it finished); 0 for a run that has not started."""
        if not self.started:
            return 0.0
        return max(0.0, (self.finished or (now if now is not None else time.time())) - self.started)

    def remaining_s(self, now: float | None = None) -> float | None:
        """The estimate counted down since it was made (never below 0); None when there is none."""
        if self.eta_s is None:
            return None
        if not self.active:
            return 0.0
        return max(0.0, self.eta_s - ((now if now is not None else time.time()) - self.updated))

    def label(self, now: float | None = None) -> str:
        """One line for the progress bar: 'training step 120/600 · 1 min 05 s elapsed · about 40 s left'."""
        if self.state in ("idle", "queued") or not self.started:
            return self.message or self.state
        if self.state != "running" or self.stage in ("published", "done"):
            what = self.message or self.state
        elif self.stage == "training" and self.steps:
            what = f"training step {self.step}/{self.steps}"
            if self.message.startswith("training… "):
                what += " · " + self.message.removeprefix("training… ")
        else:
            what = STAGES.get(self.stage, self.stage)
        parts = [what, f"{duration(self.elapsed_s(now))} elapsed"]
        left = self.remaining_s(now)
        if self.active and self.stage not in ("published", "done"):
            parts.append("estimating time left…" if left is None else f"about {duration(left)} left")
        return " · ".join(parts)


def duration(seconds: float) -> str:
    """'42 s', '3 min 05 s', '1 h 02 min': short enough for a bar label."""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def apply_event(status: JobStatus, event: dict, now: float) -> bool:
    """Fold one progress line into `status`; True when it announced the registered child.

    The estimate extrapolates the pace since training began (the stages before it are short and
    unlike it): time per unit of progress so far × the progress still to come. Before a few
    training steps have passed there is no honest estimate, and the bar says so.
    """
    if "stage" not in event:
        return False
    stage = str(event["stage"])
    status.progress = float(event.get("progress", status.progress))
    status.message, status.updated = _describe(event), now
    if stage != status.stage:
        status.stages.append(stage)
        status.stage = stage
        if stage == "training":
            status.training_since = (now, status.progress)
    if "steps" in event:
        status.step, status.steps = int(event.get("step", 0)), int(event["steps"])
    since = status.training_since
    if stage in ("published", "done"):
        status.eta_s = 0.0
    elif since is not None and status.progress - since[1] >= 0.02:
        pace = (now - since[0]) / (status.progress - since[1])
        status.eta_s = pace * (1.0 - status.progress)
    registered = stage == "published" and bool(event.get("child"))
    if registered:
        status.child = str(event["child"])
    if status.child and stage in ("published", "done"):
        status.message = f"new version {status.child} registered"  # what matters from here on, until the exit
    return registered


class FinetuneJobs:
    """At most one background run per model; statuses kept for the page to poll."""

    def __init__(self, db_url: str, models_dir: str | None, on_done=None, threads: int = 1, on_registered=None):
        """`on_registered(status)`: the child is in the database and its file in place, the process still running
        (a studio registers it at once, so that every picker lists it); `on_done(status)`: the process exited."""
        self.db_url = db_url
        self.models_dir = models_dir
        self.threads = threads
        self.on_done = on_done or (lambda status: None)
        self.on_registered = on_registered or (lambda status: None)
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
        assert proc.stdout is not None  # started with stdout=PIPE
        for line in proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            with self._lock:
                status = self._jobs[model]
                registered = apply_event(status, event, time.time())
                if "child" in event and "stage" not in event:
                    final = event  # the command's last line: the child and its measured effect
                snapshot = replace(status, stages=list(status.stages))
            if registered:
                self.on_registered(snapshot)
        code = proc.wait()
        drain.join()
        stderr = "".join(tail)
        with self._lock:
            status = self._jobs[model]
            status.finished = time.time()
            if code == 0 and final:
                status.state, status.stage, status.progress, status.eta_s = "succeeded", "done", 1.0, 0.0
                status.child = final["child"]
                status.metrics = {k: v for k, v in final.items() if isinstance(v, (int, float))}
                status.message = f"new version {status.child}"
            else:
                status.state = "failed"
                status.message = failure_line(stderr, code)
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
    return STAGES.get(stage, stage) + ("" if stage in ("done", "published") else "…")
