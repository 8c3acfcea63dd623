"""The headline result: does rating images and fine-tuning move a model towards a rater's taste, any taste?

A simulated rater rates samples through the same Studio calls the page makes; `aigc.feedback.finetune.finetune`
(the code the page's background process and `aigc finetune` run) follows; then fresh samples of parent and
child are judged by the rater's *true* taste. Tastes (`aigc/evaluation/raters.py`, issue 13): Fashion-MNIST
class sets (`--prefs`), appearance and shape attributes (thresholds on measurable image properties), a class
set AND an attribute, careless raters (15% of thumbs contradict the taste), a held-out group never used for
tuning, and one appearance taste on a folder of pictures this benchmark draws and trains a VAE on (no
shipped classifier there). One JSON line per run, then one summary line with all_targets_met.

    python benchmarks/feedback_loop.py                                # GAN + VAE × every taste, 100 ratings
    python benchmarks/feedback_loop.py --models fashion-gan --tastes bright --per-round 100
    python benchmarks/feedback_loop.py --tastes tuning --curve 20,40,60,100 --plot docs/feedback_curve.png
    python benchmarks/feedback_loop.py --models fashion-gan --prefs 1,5,7 --tastes none --rounds 3 --per-round 50
    python benchmarks/feedback_loop.py --prefs none --tastes bright --rounds 2 --per-round 50 --picks 50
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from feedback_plot import plot
from loop_targets import LOOP_BUDGET_S, MAX_RATINGS, MAX_RATINGS_TO_RATE, QUALITY_FIGURES, quality_targets
from rating_pages import random_pages, round_seed, to_rate_pages

sys.path.insert(0, str(Path(__file__).parent))

PREFS = {
    "1,5,7": "trousers, sandals, sneakers",
    "0,2,4": "tops, pullovers, coats",
    "3,8,9": "dresses, bags, ankle boots",
}
FOLDER_TASTE = "folder-wide"
# FinetuneConfig fields a flag of that name sets
SETTABLE = ("steps", "lr_scale", "ess_floor", "view_margin", "view_combine", "tilt_kernel", "tilt_temperature")
SETTABLE += ("tilt_draws", "tilt_components", "realism_keep", "weights_by", "child_keep", "train_latents")


@dataclass
class Reference:
    """Real images in the space the effect is judged in: features, the rater's classes, the images themselves."""

    images: np.ndarray  # (N, H, W, C) uint8
    feats: torch.Tensor
    classes: np.ndarray | None  # the judge's classes (Fashion-MNIST only)
    embed: object  # images → features (torch)
    radius: torch.Tensor = field(init=False)  # the real set's k-NN radii, once: they cost most of a precision

    def __post_init__(self):
        from aigc.evaluation.metrics import neighbour_radius

        self.radius = neighbour_radius(self.feats)

    def liked(self, rater) -> torch.Tensor:
        return self.feats[torch.from_numpy(rater.likes(self.images, self.classes))]


def fashion_reference() -> Reference:
    from aigc.data.datasets import load_dataset, to_uint8
    from aigc.evaluation.metrics import classify_features, embed, real_features

    feats, _ = real_features("test")
    images = to_uint8(load_dataset(None, split="test").images)
    return Reference(images, feats, classify_features(feats).numpy(), embed)


def folder_reference(model) -> Reference:
    from aigc.data.datasets import load_dataset, to_uint8
    from aigc.feedback.features import compute, feature_fn

    fn, _ = feature_fn(model)  # the parent's frozen encoder: the only learned view of a user's pictures
    images = to_uint8(load_dataset(model.record.dataset.split(":", 1)[1]).images[:5000])
    return Reference(
        images, torch.from_numpy(compute(fn, images)).float(), None, lambda x: torch.from_numpy(compute(fn, x))
    )


def judge(model, rater, ref: Reference, n: int, seed: int) -> dict:
    from aigc.evaluation.metrics import classify_features, fid, precision, recall

    images = model.sample(n, seed)
    feats = ref.embed(images).float()
    liked_real = ref.liked(rater)
    precision_all = precision(ref.feats, feats, real_radius=ref.radius)
    recall_liked = recall(liked_real, feats)
    liked = torch.from_numpy(rater.likes(images))
    # realism of the samples the rater likes: a taste for kinds the model draws less well lowers
    # precision_all after fine-tuning even when nothing got worse; this separates the two
    few = liked.sum() <= 10
    precision_liked_samples = float("nan") if few else precision(ref.feats, feats[liked], real_radius=ref.radius)
    out = {
        "liked_rate": round(float(liked.float().mean()), 4),
        "precision_all": round(precision_all, 4),
        "precision_liked_samples": round(precision_liked_samples, 4),
        "fid_liked": round(fid(liked_real, feats), 2),
        "recall_liked": round(recall_liked, 4),
    }
    if ref.classes is not None:
        out["classes"] = np.bincount(classify_features(feats).numpy(), minlength=10).tolist()
    return out


def pick_pairs(studio, child: str, rater, n: int, seed: int) -> int:
    """n blind A/B pairs of the child and its parent, picked as the page's 🔀 does (Studio.ab_pair/ab_pick);
    a yes/no taste calls a pair of two liked or two disliked pictures a tie. Returns how many were decided."""
    decided = 0
    for i in range(n):
        pair = studio.ab_pair(child, seed + i, rater.name)
        verdict = int(rater.pick(pair["left_image"][None], pair["right_image"][None])[0])
        picked = {1: pair["left_id"], -1: pair["right_id"]}.get(verdict)
        studio.ab_pick(pair["left_id"], pair["right_id"], picked, rater.name)
        decided += picked is not None
    return decided


def rate_samples(studio, model: str, rater, n: int, seed: int, to_rate: bool = False) -> None:
    """Exactly what the page does: Studio.sample records the samples, Studio.rate stores each click.

    to_rate: the page's 🎯 "images to rate next" (Studio.sample_to_rate), `rating_pages.TO_RATE_PAGE` at a time so that
    each batch is chosen knowing the ratings before it."""

    def rate(batch) -> int:
        for sample_id, score in zip(batch.sample_ids, rater.rate(batch.images)):
            studio.rate(sample_id, float(score), rater.name)
        return len(batch.sample_ids)

    if not to_rate:
        for count, page_seed in random_pages(n, seed):
            rate(studio.sample(model, count, page_seed, rater=rater.name))
        return
    for count, page_seed in to_rate_pages(n, seed):
        rate(studio.sample_to_rate(model, count, page_seed, rater=rater.name))


# what the run itself reported, to set beside the rater's true figures
HONEST = ("mean_reward_after", "confidence", "reward_heldout_accuracy", "reward_heldout_ece", "reward_flip", "n_picks")
HONEST += ("reward_heldout_auc", "reward_selection_accuracy")
HONEST += ("reward_features_used", "largest_kind_share_after", "reward_temperature", "ess_fraction", "tilt_temperature")
HONEST += ("tilt_ess_fraction", "tilt_mean_p_before", "tilt_mean_p_drawn", "tilt_centres")


def run(model: str, rater, ref: Reference, args, workdir: Path, per_round: int, models_from: Path | None) -> dict:
    from aigc.evaluation.raters import LIKED_RATE_TARGET
    from aigc.feedback.finetune import FinetuneConfig, finetune
    from aigc.service.studio import Studio

    home = workdir / f"{model}-{rater.name}-{per_round}"
    os.environ["AIGC_HOME"] = str(home)
    models_dir = home / "models"
    if models_from is not None:
        models_dir.mkdir(parents=True, exist_ok=True)
        for path in models_from.glob("*.safetensors"):
            (models_dir / path.name).write_bytes(path.read_bytes())
    studio = Studio.open(db_url=f"sqlite:///{home}/feedback.sqlite", models_dir=str(models_dir), threads=args.threads)
    t_warm = time.perf_counter()
    studio.warm_up()  # as the server does at start, while the person rates: only a fresh machine has work here
    current, warm_up_s = model, time.perf_counter() - t_warm
    history = [{"round": 0, "model": current, **judge(studio.model(current), rater, ref, args.eval_n, 12345)}]
    loop_s = rating_s = 0.0
    metrics: dict = {}
    for r in range(1, args.rounds + 1):
        t0 = time.perf_counter()
        rate_samples(studio, current, rater, per_round, seed=round_seed(args.rating_seed, r), to_rate=args.to_rate)
        t1 = time.perf_counter()
        overrides = {k: v for k in SETTABLE if (v := getattr(args, k)) is not None}
        stages: dict[str, float] = {}
        result = finetune(
            current,
            studio.store,
            FinetuneConfig(
                eval_n=500,
                progress=False,
                threads=args.threads,
                tilt=not args.no_tilt,
                child_filter=not args.no_child_filter,
                perceptual=not args.no_perceptual,
                **overrides,
            ),
            models_dir=str(models_dir),
            on_progress=lambda stage, frac, info, seen=stages, t=t1: note_stage(seen, stage, time.perf_counter() - t),
        )
        rating_s, loop_s = rating_s + t1 - t0, loop_s + time.perf_counter() - t1
        studio.refresh()
        current, metrics = result.child, result.metrics
        run_metrics = {k: metrics[k] for k in HONEST if k in metrics}
        run_metrics["stage_started_s"] = {k: round(v, 1) for k, v in stages.items()}
        if args.picks and r < args.rounds:  # the next round's reward reads them beside its ratings
            run_metrics["picks_decided"] = pick_pairs(studio, current, rater, args.picks, seed=5000 * r)
        history.append(
            {
                "round": r,
                "model": current,
                "run_metrics": run_metrics,
                **judge(studio.model(current), rater, ref, args.eval_n, 12345),
            }
        )
    before, after = history[0], history[-1]
    target = LIKED_RATE_TARGET[rater.kind]
    out = {
        "model": model,
        "taste": rater.name,
        "kind": rater.kind,
        "held_out": rater.held_out,
        "flip": rater.flip,
        "liked": PREFS.get(",".join(map(str, rater.classes)), rater.name),
        "rounds": args.rounds,
        "picks_per_round": args.picks,
        "to_rate": args.to_rate,
        "ratings_used": args.rounds * per_round,
        "rating_seed": args.rating_seed,
        "eval_n": args.eval_n,
        **{
            f"{k}_{when}": h[k]
            for k in ("liked_rate", "precision_all", "precision_liked_samples", "fid_liked", "recall_liked")
            for when, h in (("before", before), ("after", after))
        },
        "classes_before": before.get("classes"),
        "classes_after": after.get("classes"),
        "run_reported": {k: metrics.get(k) for k in HONEST},
        "loop_s": round(loop_s, 1),
        "rating_s": round(rating_s, 1),
        "warm_up_s": round(warm_up_s, 1),
        "liked_rate_target": target,
        "history": history,
    }
    figures = {when: {k: out[f"{k}_{when}"] for k in QUALITY_FIGURES} for when in ("before", "after")}
    out["targets"] = {
        **quality_targets(figures["after"], figures["before"], target),
        "loop_time": loop_s <= LOOP_BUDGET_S * args.rounds,
        "ratings": out["ratings_used"] <= (MAX_RATINGS_TO_RATE if args.to_rate else MAX_RATINGS),
    }
    out["targets_met"] = all(out["targets"].values())
    save_grids(studio, model, current, home, Path("docs") if args.docs else None, rater.name)
    studio.close()
    return out


def save_grids(studio, parent: str, child: str, home: Path, docs: Path | None, taste: str) -> None:
    from aigc.data.images import make_grid, to_pil

    rows = [make_grid(studio.model(m).sample(32, 7), nrow=16) for m in (parent, child)]
    grid = np.concatenate([rows[0], np.full((6, rows[0].shape[1], rows[0].shape[2]), 255, np.uint8), rows[1]])
    target = (docs or home) / f"finetune_{parent}_{taste.replace(',', '')}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    to_pil(grid, upscale=2).save(target)


def tastes(spec: str, prefs: str):
    """The raters to run: class sets from --prefs, then named tastes / groups from --tastes."""
    from aigc.evaluation.raters import TasteRater, named_tastes

    classes = [tuple(map(int, p.split(","))) for p in prefs.split(";") if p]
    out = [TasteRater(f"classes-{''.join(map(str, c))}", "class", classes=c) for c in classes]
    return out + named_tastes([n for n in spec.split(",") if n and n not in ("none", FOLDER_TASTE)])


def note_stage(seen: dict[str, float], stage: str, elapsed_s: float) -> None:
    """When each stage first started; a stage that comes back later (a GAN's second tilt) gets '#2'."""
    if stage not in seen:
        seen[stage] = elapsed_s
    elif list(seen)[-1].split("#")[0] != stage:  # not a repeat report of the stage now running
        seen[f"{stage}#{sum(k.split('#')[0] == stage for k in seen) + 1}"] = elapsed_s


def main() -> int:
    from aigc.feedback.config import TRAIN_LATENTS, WEIGHTS_BY
    from aigc.feedback.reward import VIEW_COMBINATIONS

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="fashion-gan,fashion-vae")
    p.add_argument("--prefs", default=";".join(PREFS), help="';'-separated liked-class lists, e.g. '1,5,7;0,2,4'")
    where = f"'held-out', 'all', 'fresh', '{FOLDER_TASTE}' (a folder of pictures this benchmark makes), or 'none'"
    p.add_argument(
        "--tastes", default=f"all,{FOLDER_TASTE}", help=f"aigc/evaluation/raters.py names, 'tuning', {where}"
    )
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--per-round", type=int, default=MAX_RATINGS, help="ratings per round")
    p.add_argument("--picks", type=int, default=0, help="blind A/B picks of child vs parent after each round but last")
    p.add_argument("--curve", default=None, help="ratings per run, e.g. 20,40,60,100: one fine-tune each")
    p.add_argument("--to-rate", action="store_true", help="rate the page's 🎯 'images to rate next' (≤ 50 ratings)")
    p.add_argument("--rating-seed", type=int, default=0, help="first seed of the rated samples (another rating set)")
    p.add_argument("--steps", type=int, default=None, help="fine-tuning steps (default: the kind's default)")
    p.add_argument("--lr-scale", type=float, default=None)
    p.add_argument("--tilt-kernel", type=float, default=None, help="the latent tilt's kernel scale (default per kind)")
    p.add_argument("--tilt-draws", type=int, default=None, help="the child's draws the tilt scores (default per kind)")
    p.add_argument("--tilt-temperature", type=float, default=None, help="the latent tilt's β (default: the run's)")
    p.add_argument("--tilt-components", type=int, default=None, help="the latent tilt's centres (default: its own)")
    p.add_argument("--realism-keep", type=float, default=None, help="the tilt's realism share (default per kind)")
    p.add_argument("--no-tilt", action="store_true", help="no latent tilt: the fine-tune alone")
    p.add_argument("--child-keep", type=float, default=None, help="GAN: its rule's keep share (default: the parent's)")
    p.add_argument("--train-latents", choices=TRAIN_LATENTS, default=None, help="GAN: the z it fine-tunes on")
    p.add_argument("--no-child-filter", action="store_true", help="GAN: the child keeps every draw")
    p.add_argument("--no-perceptual", action="store_true", help="fine-tune without the parent's perceptual term")
    p.add_argument("--ess-floor", type=float, default=None)
    p.add_argument("--view-margin", type=float, default=None, help="steer by every reward view this close (nats)")
    p.add_argument("--weights-by", choices=WEIGHTS_BY, default=None, help="what weighs the real images")
    p.add_argument("--view-combine", choices=VIEW_COMBINATIONS, default=None, help="how those views combine")
    p.add_argument("--eval-n", type=int, default=1000)
    p.add_argument("--folder-steps", type=int, default=3000, help="training steps of the folder VAE (setup)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (the 2-core machine's budget)")
    p.add_argument("--docs", action="store_true", help="write grids/plots under docs/")
    p.add_argument("--plot", default=None, help="write a liked-rate plot (per round, or per rating count) here")
    p.add_argument("--replot", nargs="+", default=None, help="only draw --plot from these saved JSON-line files")
    args = p.parse_args()
    if args.replot:  # the figure from runs already measured, e.g. a curve run beside the table's 100-rating runs
        if not args.plot:
            p.error("--replot needs --plot")
        saved = [json.loads(line) for f in args.replot for line in Path(f).read_text().splitlines() if line]
        wanted = {r.name for r in tastes(args.tastes, args.prefs)} | set(args.tastes.split(","))  # --tastes, --prefs
        # a line with a `probe` field measured a lever that was not kept: the figure shows the defaults' runs only
        chosen = [r for r in saved if "liked_rate_after" in r and r["taste"] in wanted and not r.get("probe")]
        if not chosen:
            p.error(f"no finished runs of {sorted(wanted)} in {', '.join(args.replot)}")
        plot(chosen, Path(args.plot))
        return 0
    torch.set_num_threads(args.threads)
    from aigc.feedback.ratings import NotEnoughRatings

    counts = [int(c) for c in args.curve.split(",")] if args.curve else [args.per_round]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        raters = tastes(args.tastes, args.prefs)
        ref = fashion_reference() if raters else None
        jobs = [(m, r, ref, None) for m in args.models.split(",") for r in raters]
        if FOLDER_TASTE in args.tastes.split(","):
            jobs.append(folder_job(Path(tmp), args.folder_steps))
        for model, rater, reference, models_from in jobs:
            if rater.threshold is None and rater.prop is not None:
                rater = rater.calibrate(reference.images, reference.classes)
            for n in counts:
                try:
                    res = run(model, rater, reference, args, Path(tmp), n, models_from)
                except NotEnoughRatings as exc:  # the taste never showed up in the samples: a miss, not a crash
                    res = {
                        "model": model,
                        "taste": rater.name,
                        "kind": rater.kind,
                        "held_out": rater.held_out,
                        "ratings_used": n,
                        "error": str(exc),
                        "targets_met": False,
                    }
                print(json.dumps(res), flush=True)
                results.append(res)
    if args.plot and (done := [r for r in results if "error" not in r]):
        plot(done, Path(args.plot))
    print(json.dumps(summary(results)), flush=True)
    return 0


def folder_job(tmp: Path, steps: int):
    """(model, rater, reference, models folder) for the taste on a folder of pictures drawn here."""
    from taste_folder import make_folder, train_parent

    from aigc.evaluation.raters import TasteRater
    from aigc.models.pipeline import load_model

    folder = make_folder(tmp / "pictures")
    models = tmp / "folder-models"
    name = train_parent(folder, models, steps)
    ref = folder_reference(load_model(name, models_dir=str(models)))
    rater = TasteRater(FOLDER_TASTE, "attribute", prop="width_over_height").calibrate(ref.images)
    return name, rater, ref, models


def summary(results: list[dict]) -> dict:
    keys = ("model", "taste", "kind", "held_out", "ratings_used", "liked_rate_before", "liked_rate_after")
    keys += ("liked_rate_target", "precision_all_before", "precision_all_after", "fid_liked_before", "fid_liked_after")
    keys += ("recall_liked_after", "loop_s", "targets_met")
    groups = {g: [r for r in results if r["held_out"] == (g == "held_out")] for g in ("tuning", "held_out")}
    return {
        "summary": True,
        "runs": len(results),
        "all_targets_met": bool(results) and all(r["targets_met"] for r in results),
        "targets_met_by_group": {g: f"{sum(r['targets_met'] for r in rs)}/{len(rs)}" for g, rs in groups.items()},
        "table": [{k: r.get(k) for k in keys} for r in results],
    }


if __name__ == "__main__":
    sys.exit(main())
