"""Where AIGC Studio keeps its files: the one place `$AIGC_HOME` and its folders are resolved.

    $AIGC_HOME (default ~/.aigc)
    ├── models/               the user's models and fine-tuned children (shadow the shipped ones)
    ├── runs/                 training and fine-tuning run folders (logs, sample grids, checkpoints)
    ├── datasets/fashion-mnist/  Fashion-MNIST when it had to be downloaded
    └── feedback.sqlite3      the feedback database, when no other URL is given
    $AIGC_CACHE_DIR (default ~/.cache/aigc)   judge features of real images, GAN parents' tilt draws (only a cache)
    aigc/pretrained/          the shipped models (read-only, inside the package)

Why one module: the home used to be read in five places, three different ways; with
`AIGC_HOME='~/studio'` the database went to the home folder and the models to a literal `./~/studio`.
Here `~` is expanded and a relative value is made absolute against the working directory, in
`home()` alone, so every folder below agrees. The environment is read on every call (no cache): a
test or a benchmark that sets `AIGC_HOME` is obeyed at once. A child process gets the resolved,
absolute home (`child_env`), so a relative value means the same folder there.

The database package (`feedback_db`) never imports this: the engine passes `database_url()` in.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "AIGC_HOME"
DB_URL_ENV = "AIGC_DB_URL"  # a database URL handed over without a command line (`ps` shows those)
CACHE_ENV = "AIGC_CACHE_DIR"
DB_FILENAME = "feedback.sqlite3"
PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"


def _resolve(raw: str) -> Path:
    """`~` expanded, then absolute (relative values against the current directory)."""
    return Path(raw).expanduser().resolve()


def home() -> Path:
    """The app's home folder: $AIGC_HOME (with `~` expanded, made absolute), default ~/.aigc."""
    raw = os.environ.get(HOME_ENV)
    return _resolve(raw) if raw else Path.home() / ".aigc"


def models_dir(chosen: str | os.PathLike | None = None) -> Path:
    """Where children land: the folder a studio or run was given (`--models`), else the user's models
    ($AIGC_HOME/models, where names are also looked up after an explicit folder)."""
    return Path(chosen) if chosen else home() / "models"


def runs_dir() -> Path:
    """Run folders (logs, sample grids, intermediate checkpoints) of training and fine-tuning."""
    return home() / "runs"


def datasets_dir() -> Path:
    """Datasets the studio downloaded itself (Fashion-MNIST, when neither --data nor a system copy has it)."""
    return home() / "datasets"


def feature_cache_dir() -> Path:
    """Judge features of real images and GAN parents' scored tilt draws (`feedback.tilt_draws`): $AIGC_CACHE_DIR,
    default ~/.cache/aigc (only a cache: safe to delete)."""
    raw = os.environ.get(CACHE_ENV)
    return _resolve(raw) if raw else Path.home() / ".cache" / "aigc"


def database_file() -> Path:
    """The SQLite file used when no database URL is given."""
    return home() / DB_FILENAME


def database_url(url: str | None = None) -> str:
    """What the engine hands `FeedbackStore`: `url` when given, else $AIGC_DB_URL, else the home's SQLite file.

    $AIGC_DB_URL is how a URL with a password reaches a process without its command line, where
    any user of the machine could read it (`ps`): the page hands the fine-tune child its URL that way.
    """
    return url or os.environ.get(DB_URL_ENV) or f"sqlite:///{database_file()}"


def child_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of `env` (default: this process's) whose $AIGC_HOME is the resolved, absolute home."""
    out = dict(os.environ if env is None else env)
    out[HOME_ENV] = str(home())
    return out
