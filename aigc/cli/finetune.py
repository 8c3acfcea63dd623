"""`aigc finetune MODEL`: one reward-weighted fine-tuning run from the ratings in the database."""

from __future__ import annotations

import argparse
import json
import sys

from aigc import paths
from aigc.cli.numbers import COUNT, SAMPLES, SEED, THREADS
from aigc.feedback.config import defaults_text
from aigc.feedback.finetune import FinetuneConfig, finetune, print_progress_json, recover
from aigc.feedback.latent_prior import SURE_ENOUGH, TEMPERATURES
from aigc.feedback.reward import NotEnoughRatings
from aigc.training.handover import Handover


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("finetune", help="fine-tune a model towards its ratings (reward-weighted training)")
    p.add_argument("model", help="parent model name or checkpoint path")
    p.add_argument(
        "--db", default=None, help="database URL (default: $AIGC_DB_URL, else the SQLite file under $AIGC_HOME)"
    )
    p.add_argument("--models", default=None, help="folder for the new version (default $AIGC_HOME/models)")
    p.add_argument("--steps", type=int, default=None, help=f"training steps (default: {defaults_text('steps')})")
    p.add_argument("--batch-size", type=COUNT, default=FinetuneConfig.batch_size)
    p.add_argument(
        "--lr-scale",
        type=float,
        default=None,
        help=f"fine-tuning lr as a fraction of the training lr (default: {defaults_text('lr_scale')})",
    )
    p.add_argument(
        "--reward-temperature",
        "--beta",  # its name before it was told apart from the VAE's KL weight and Adam's betas
        dest="reward_temperature",
        type=float,
        default=None,
        help="reward temperature β: weights ∝ P(liked)^(1/β) (default: 0.5, raised if the ESS floor needs it)",
    )
    p.add_argument(
        "--kl-weight",
        type=float,
        default=None,
        help=f"VAE: the KL weight while fine-tuning (default: {defaults_text('kl_weight')}; "
        "the child samples a fitted prior)",
    )
    p.add_argument(
        "--tilt-kernel",
        type=float,
        default=None,
        help=f"the latent tilt's kernel scale, 0-1: smaller follows the taste closer, larger varies more "
        f"(default: {defaults_text('tilt_kernel')})",
    )
    p.add_argument(
        "--tilt-temperature",
        type=float,
        default=None,
        help="the latent tilt's β, 0.1-2: draws kept ∝ P(liked)^(1/β); smaller follows the taste closer "
        f"(default: adaptive, {TEMPERATURES[0]} down to {TEMPERATURES[-1]} until the kept draws' mean P(liked) "
        f"reaches {SURE_ENOUGH})",
    )
    p.add_argument(
        "--realism-keep",
        type=float,
        default=None,
        help="the share of the tilt's draws, the most like a real image under the parent's perceptual network, "
        f"that may become centres, 0.5-1 (default: {defaults_text('realism_keep')}, others 1: all)",
    )
    p.add_argument("--no-tilt", action="store_true", help="no latent tilt: the child samples as training left it")
    p.add_argument(
        "--no-perceptual",
        action="store_true",
        help="fine-tune without the perceptual term the parent was trained with (VAE: on the ELBO alone)",
    )
    p.add_argument(
        "--ess-floor", type=float, default=FinetuneConfig.ess_floor, help="minimum effective sample size, as a fraction"
    )
    p.add_argument("--min-ratings", type=COUNT, default=FinetuneConfig.min_ratings)
    p.add_argument("--rater", default=None, help="use only this rater's ratings")
    p.add_argument(
        "--no-picks", action="store_true", help="ignore the blind A/B picks (by default the reward reads them too)"
    )
    p.add_argument("--owner", default=None, help="the person this run is for: the new version is theirs")
    p.add_argument("--job-id", type=int, default=None, help=argparse.SUPPRESS)  # set by `aigc worker`
    p.add_argument(
        "--private", action="store_true", help="register the new version unpublished (its owner and admins see it)"
    )
    p.add_argument("--data", default=None, help="training data (default: the parent's dataset)")
    p.add_argument("--name", default=None, help="name of the new version (default PARENT-ftK)")
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument("--threads", type=THREADS, default=None)
    p.add_argument(
        "--eval-n", type=SAMPLES, default=FinetuneConfig.eval_n, help="samples per model, parent and child figures"
    )
    p.add_argument("--json-progress", action="store_true", help="progress as JSON lines on stdout (for the page)")
    p.set_defaults(func=cmd_finetune)


def cmd_finetune(args: argparse.Namespace) -> int:
    """One fine-tune. Under torchrun, rank 0 does everything below and the other ranks only train with it."""
    import torch

    from aigc.training import distributed
    from aigc.training.handover import follow_run

    if args.threads:
        torch.set_num_threads(args.threads)  # the entry point sets the process's thread count, once
    dist = distributed.init_from_env("cpu")  # fine-tuning runs on CPU: gloo
    if not dist.is_main:
        return follow_run(dist)  # no database, no files: rank 0 shares the run and writes the result
    handover = Handover(dist)
    code, message = 1, "rank 0 failed before training"
    try:
        code = _finetune(args, handover)
        message = "nothing to train"
        return code
    finally:
        handover.release(code, message)  # no-op once the run was shared


def _finetune(args: argparse.Namespace, handover: Handover) -> int:
    from aigc.service.limits import DEFAULT  # the page's rule for fine-tune steps holds here too
    from feedback_db import FeedbackStore

    cfg = FinetuneConfig(
        steps=DEFAULT.finetune_steps(args.steps),
        batch_size=args.batch_size,
        lr_scale=args.lr_scale,
        reward_temperature=args.reward_temperature,
        kl_weight=args.kl_weight,
        tilt=not args.no_tilt,
        perceptual=not args.no_perceptual,
        use_picks=not args.no_picks,
        tilt_kernel=args.tilt_kernel,
        tilt_temperature=args.tilt_temperature,
        realism_keep=args.realism_keep,
        ess_floor=args.ess_floor,
        min_ratings=args.min_ratings,
        rater=args.rater,
        owner=args.owner,
        private=args.private,
        job_id=args.job_id,
        data=args.data,
        seed=args.seed,
        threads=args.threads,
        eval_n=args.eval_n,
        child_name=args.name,
        progress=not args.json_progress,
    )
    with FeedbackStore(paths.database_url(args.db)) as store:
        store.fail_stale_runs()
        recover(store)
        try:
            result = finetune(
                args.model,
                store,
                cfg,
                on_progress=print_progress_json if args.json_progress else None,
                models_dir=args.models,
                handover=handover,
            )
        except NotEnoughRatings as exc:
            print(f"aigc finetune: {exc}", file=sys.stderr)
            return 3
    print(
        json.dumps(
            {
                "child": result.child,
                "parent": result.parent,
                "run_id": result.run_id,
                "checkpoint": str(result.checkpoint),
                **result.metrics,
            }
        )
    )
    return 0
