"""One fine-tuning run: ratings → reward model → weights → the one training loop → a new version.

    parent checkpoint ─┐
    ratings (store) ───┼─ φ(rated images) → reward r̂ → w ∝ exp(r̂/β) over (training data + rated)
                       └─ train.train(parent copy, data, weights) → child → effect, parent vs child

Crash safety: the child is written atomically under a hidden name, registered and its run
marked succeeded, then renamed into place. A run killed earlier leaves the parent untouched, no
version registered, and a 'running' row that the next process start marks failed
(`FeedbackStore.fail_stale_runs`); `recover` finishes or discards what a kill left behind.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from aigc import paths
from aigc.data.datasets import ImageDataset, from_uint8
from aigc.feedback import features as phi
from aigc.feedback.calibration import require_taste, warnings
from aigc.feedback.config import KIND_DEFAULTS, TRAIN_LATENTS, WEIGHTS_BY, FinetuneConfig
from aigc.feedback.effect import measure_effect
from aigc.feedback.finetune_data import picked_images, rated_images, realism_score, training_set
from aigc.feedback.latent_prior import MAX_TILT_DRAWS, TiltConfig, tilt_from_scores, tilted_prior
from aigc.feedback.ratings import READINESS
from aigc.feedback.reward import RewardConfig, fit_reward, reward_weights
from aigc.feedback.tilt_draws import parent_draws
from aigc.models import VAE
from aigc.models.acceptance import check_keep
from aigc.models.cards import write_card
from aigc.models.checkpoint import SUFFIX, CheckpointRecord, file_sha256, load_module
from aigc.models.filter_rule import fit_rule
from aigc.models.latent import vae_dimension_kl
from aigc.models.pipeline import ImageModel, load_model, models_dirs
from aigc.models.prior import aggregate_posterior
from aigc.training.distributed import SINGLE
from aigc.training.handover import Handover
from aigc.training.loop import DEFAULT_LR, TrainConfig, finish_record, save_final, train
from aigc.training.perceptual import inherited, provenance
from feedback_db import FeedbackStore

PENDING_PREFIX = ".pending-"
# a GAN child's acceptance rule is fitted on this many of its own draws: ~1 s on two cores, ~200 per class
CHILD_RULE_DRAWS = 2000


@dataclass
class FinetuneResult:
    run_id: int
    parent: str
    child: str
    checkpoint: Path
    metrics: dict = field(default_factory=dict)


def next_child_name(parent: str, taken: set[str]) -> str:
    base = parent.split("-ft")[0]
    k = 1
    while f"{base}-ft{k}" in taken:
        k += 1
    return f"{base}-ft{k}"


def finetune(
    parent_name: str,
    store: FeedbackStore,
    cfg: FinetuneConfig | None = None,
    on_progress: Callable[[str, float, dict], None] | None = None,
    models_dir: str | os.PathLike | None = None,
    handover: Handover | None = None,
) -> FinetuneResult:
    """Run one fine-tune of `parent_name` from the ratings in `store`; returns the registered child.

    `handover`: under torchrun, rank 0's link to the other ranks (they train the run with it).
    The thread count is the caller's (`aigc finetune --threads`): `cfg.threads` is only recorded.
    """
    cfg = cfg or FinetuneConfig()
    report = on_progress or (lambda stage, frac, info: None)
    parent = load_model(parent_name, device="cpu", models_dir=models_dir)
    defaults = KIND_DEFAULTS[parent.kind]
    if cfg.child_name and (  # before any work: the run wrote over that version's card and log, then refused
        store.get_version(cfg.child_name) or (paths.models_dir(models_dir) / f"{cfg.child_name}.safetensors").exists()
    ):
        raise ValueError(f"--name {cfg.child_name}: a model of that name exists already; choose another name")
    cfg = replace(
        cfg,
        steps=cfg.steps or defaults["steps"],
        tilt_kernel=(defaults["tilt_kernel"] if cfg.tilt_kernel is None else cfg.tilt_kernel) if cfg.tilt else None,
        tilt_draws=cfg.tilt_draws or int(defaults["tilt_draws"]),
        lr_scale=cfg.lr_scale or defaults["lr_scale"],
        train_latents=cfg.train_latents or (str(defaults.get("train_latents", "normal")) if cfg.tilt else "normal"),
        kl_weight=cfg.kl_weight if cfg.kl_weight is not None else defaults.get("kl_weight"),
        realism_keep=float(defaults.get("realism_keep", TiltConfig.realism_keep))
        if cfg.realism_keep is None
        else cfg.realism_keep,
    )
    tilt_cfg = (  # built, so checked, before any training is spent
        TiltConfig(
            draws=int(cfg.tilt_draws or 0),
            components=TiltConfig.components if cfg.tilt_components is None else cfg.tilt_components,
            kernel=cfg.tilt_kernel,
            temperature=cfg.tilt_temperature,  # None: chosen from the draws (latent_prior.choose_temperature)
            realism_keep=float(cfg.realism_keep or 0.0),  # resolved above, never None here
            seed=cfg.seed,
        )
        if cfg.tilt_kernel is not None
        else None
    )
    if not 100 <= int(cfg.tilt_draws or 0) <= MAX_TILT_DRAWS:  # a bounded cost: each draw is decoded and scored
        raise ValueError(f"the tilt's draws must be between 100 and {MAX_TILT_DRAWS}, got {cfg.tilt_draws}")
    if cfg.child_keep is not None:
        check_keep(cfg.child_keep)
    if cfg.train_latents not in TRAIN_LATENTS:
        raise ValueError(f"train_latents must be one of {', '.join(TRAIN_LATENTS)}, got {cfg.train_latents!r}")
    if cfg.train_latents == "tilt" and (parent.kind != "gan" or not cfg.tilt):
        raise ValueError("train_latents 'tilt' trains a GAN's generator on its tilted prior: a GAN, with the tilt on")
    for name, value in (("lr_scale", cfg.lr_scale), ("reward_temperature", cfg.reward_temperature)):
        if value is not None and not (math.isfinite(value) and value > 0):  # nan fails every comparison
            raise ValueError(f"{name} must be a number above 0, got {value}")
    if cfg.kl_weight is not None and not (math.isfinite(cfg.kl_weight) and cfg.kl_weight >= 0):
        raise ValueError(f"kl_weight must be a number at least 0, got {cfg.kl_weight}")
    if not 0 < cfg.ess_floor <= 1:
        raise ValueError(f"the ESS floor is a share of the examples, above 0 and at most 1, got {cfg.ess_floor}")
    if cfg.weights_by not in WEIGHTS_BY:
        raise ValueError(f"weights_by must be one of {', '.join(WEIGHTS_BY)}, got {cfg.weights_by!r}")
    if parent.kind == "vae" and not cfg.fit_prior and cfg.kl_weight is not None and cfg.kl_weight < 1:
        raise ValueError(
            "a KL weight below 1 needs fit_prior: without it the child would sample N(0, I), "
            "which its encoder no longer matches"
        )
    version = store.get_version(parent.name) or store.register_version(
        parent.name,
        parent.kind,
        str(parent.path),
        parent.sha256,
        dataset=parent.record.dataset,
        config=parent.record.config,
        latent_dim=parent.latent_dim,
    )
    if version.checkpoint_sha256 != parent.sha256:  # its ratings were of pictures other weights made
        raise ValueError(
            f"{parent.name} is not the checkpoint the database knows by that name (sha256 "
            f"{version.checkpoint_sha256[:8]}…, the file {parent.sha256[:8]}…): open the studio once (aigc serve), "
            "which retires a replaced shipped version, or rename the file to fine-tune it as a new version"
        )

    report("ratings", 0.0, {})
    rated, scores = rated_images(store, version.id, parent.latent_dim, cfg.rater)
    readiness = replace(READINESS, min_ratings=cfg.min_ratings)
    views = {k: v for k in ("view_margin", "view_combine") if (v := getattr(cfg, k)) is not None}  # else the defaults
    reward_cfg = RewardConfig(readiness=readiness, ess_floor=cfg.ess_floor, temperature=cfg.reward_temperature, **views)
    report("embedding", 0.02, {"images": len(rated)})
    rf = phi.reward_features(parent)
    fn, feature_name = rf.learned, rf.name
    rated_feats = rf.compute(rated) if len(rated) else np.zeros((0, sum(d for _, d in rf.blocks)))
    picked, other = picked_images(store, version.id, parent.latent_dim, cfg.rater) if cfg.use_picks else ((), ())
    pairs = (rf.compute(picked), rf.compute(other)) if len(picked) else None
    report("reward", 0.04, {"picks": len(picked)})
    reward = fit_reward(rated_feats, scores, reward_cfg, seed=cfg.seed, blocks=rf.blocks, pairs=pairs)
    require_taste(reward.heldout)  # before a run row or a child: a model steered by noise is no one's taste

    child_name = cfg.child_name or next_child_name(parent.name, {v.name for v in store.list_versions()})
    run_config = {"child": child_name, **asdict(cfg), "reward": reward.summary(), "features": feature_name}
    run_id = store.start_run(version.id, run_config, n_ratings=reward.n_ratings)
    try:
        cautions = warnings(reward.heldout, reward.flip)  # the same words the page showed before the run
        for i, caution in enumerate(cautions):
            report("reward", 0.045, {"warning": caution, "warning_index": i})
        report("weights", 0.05, {"run_id": run_id, **reward.summary()})
        reads_learned = bool({"learned", "kinds"} & reward.blocks_read)  # else they weigh 0: do not compute them
        real, real_learned, data_name = training_set(parent, cfg, fn if reads_learned else None)
        if not reads_learned:
            real_learned = np.zeros((len(real), rf.learned_dim))
        real_feats = rf.compute(real, learned=real_learned)
        images = torch.cat([real, from_uint8(rated)])
        weigh = reward.predict_chosen if cfg.weights_by == "chosen" else reward.predict
        rewards = weigh(np.concatenate([real_feats, rated_feats]))
        weights = reward_weights(rewards, reward_cfg)

        def liked(pictures: np.ndarray) -> np.ndarray:  # the tilts' P(liked): the reward model on the pictures
            return reward.predict(rf.compute(pictures))

        parents_network = inherited(parent.record, models_dirs(models_dir))  # its perceptual network, if any
        realism = realism_score(parents_network, real) if tilt_cfg is not None and tilt_cfg.realism_keep < 1 else None
        train_prior, train_summary = None, {}
        if cfg.train_latents == "tilt" and tilt_cfg is not None:
            report("parent_tilt", 0.06, {"draws": tilt_cfg.draws, "on": parent.name})
            # no realism filter here: on the training prior too it cost recall (gan_precision_probes.jsonl);
            # the parent's draws and their features are the same for every run of it: kept on disk (tilt_draws)
            z, drawn_feats = parent_draws(parent, rf, tilt_cfg.draws, tilt_cfg.seed)
            train_prior, parents_tilt = tilt_from_scores(z, reward.predict(drawn_feats), tilt_cfg)
            train_summary = {
                f"train_{k}": parents_tilt[k] for k in ("tilt_centres", "tilt_mean_p_before", "tilt_mean_p_drawn")
            }
        report("training", 0.1, {"step": 0, "steps": cfg.steps, **weights.summary()})
        assert parent.path is not None  # load_model always gives the file it read
        module, _ = load_module(parent.path)  # a fresh copy: the served parent is never touched
        if module.kind == "vae" and cfg.kl_weight is not None:
            module.cfg.kl_weight = cfg.kl_weight  # recorded in the child's config
        record = CheckpointRecord(
            kind=module.kind, config={}, name=child_name, dataset=parent.record.dataset, parent=parent.name
        )
        kind = module.kind
        network = parents_network if cfg.perceptual else None
        assert cfg.lr_scale is not None  # resolved from KIND_DEFAULTS above
        train_cfg = TrainConfig(
            out_dir=str(paths.runs_dir() / child_name),
            steps=cfg.steps,
            batch_size=cfg.batch_size,
            lr=DEFAULT_LR[kind] * cfg.lr_scale,
            seed=cfg.seed,
            checkpoint_every=0,
            sample_every=0,
            threads=cfg.threads,
            progress=cfg.progress,
            perceptual=str(network[0]) if network else None,
            perceptual_weight=network[1] if network else 0.0,
            latent_prior=train_prior,
        )
        dataset = ImageDataset(images, None, data_name)
        sample_weights = torch.from_numpy(weights.weights).float()
        if handover is not None:
            handover.share(module, dataset, train_cfg, sample_weights)  # under torchrun: the other ranks train it too
        result = train(
            module,
            dataset,
            train_cfg,
            record,
            weights=sample_weights,
            on_progress=lambda s, n, losses: report("training", 0.1 + 0.7 * s / n, {"step": s, "steps": n, **losses}),
            dist=handover.dist if handover is not None else SINGLE,
        )
        if result.interrupted:  # Ctrl-C, or under torchrun a cancel's SIGTERM: the loop stopped between steps
            raise KeyboardInterrupt(f"training stopped at step {result.steps} of {cfg.steps}; no child was made")
        finish_record(
            record,
            result,
            train_cfg,
            command=cfg.command(parent.name),
            device="cpu",
            **({"perceptual_network": provenance(*network)} if network else {}),
        )

        if kind == "vae":
            assert isinstance(module, VAE)  # kind is module.kind
            report("prior", 0.8, {})  # the child's per-dimension KL and the prior it samples from
            record.extra["latent_kl"] = [
                round(float(v), 5) for v in vae_dimension_kl(module, images[torch.randperm(len(images))[:5000]])
            ]
            if cfg.fit_prior:
                drawn = torch.multinomial(
                    torch.from_numpy(weights.weights),
                    5000,
                    replacement=True,
                    generator=torch.Generator().manual_seed(cfg.seed),
                )
                record.extra["prior"] = aggregate_posterior(
                    module, images[drawn], cfg.prior_components, seed=cfg.seed, iters=cfg.prior_iters
                )
        tilt_summary: dict = {}
        if tilt_cfg is not None:  # z where the reward model expects a like (latent_prior.py)
            report("tilt", 0.82, {"draws": tilt_cfg.draws})
            if train_prior is not None:  # the child's tilt draws where its generator was trained
                record.extra["prior"] = train_prior
            record.extra["prior"], tilt_summary = tilted_prior(
                _as_image_model(module, record),
                liked,
                tilt_cfg,
                realism=realism,
            )
        rule, caller = parent.acceptance, parent.acceptance_classifier  # caller: the network that calls classes
        if cfg.child_filter and kind == "gan" and rule is not None and caller is not None:
            # the parent keeps the draws its discriminator passes, class by class (aigc.models.acceptance): the
            # child does too, with thresholds of its own discriminator on its own (tilted) draws
            record.extra["acceptance"] = fit_rule(
                _as_image_model(module, record),
                caller,
                rule.classifier_sha256,
                rule.keep if cfg.child_keep is None else cfg.child_keep,
                CHILD_RULE_DRAWS,
                cfg.seed,
                rule.class_keep if cfg.child_keep is None else None,  # the parent's rule whole, or one share
                classifier=parent.record.extra["acceptance"].get("classifier"),
            )
        report("evaluating", 0.85, {"samples": cfg.eval_n})  # before publishing: the figures go into the record
        child = _as_image_model(module, record, models_dir)
        effect = measure_effect(parent, child, rf, reward, n=cfg.eval_n, seed=cfg.seed)
        metrics = {
            **effect,
            "reward_cv_accuracy": round(reward.cv_accuracy, 4),
            "reward_warnings": cautions,
            **weights.summary(),
            **tilt_summary,
            **train_summary,
            "n_ratings": reward.n_ratings,
            "n_picks": reward.n_picks,
            "train_examples": len(dataset),
            "data": data_name,
            "wall_time_s": round(result.wall_time_s, 1),
        }
        record.extra.update({"metrics": metrics, "finetune": run_config})
        report("publishing", 0.95, {})
        path = publish_child(
            store,
            run_id,
            version.id,
            module,
            record,
            paths.models_dir(models_dir),
            owner=cfg.owner,
            published=not cfg.private,
        )
        # the child is registered and its file in place: the page may list and select it now, before
        # this process has exited (its teardown, and the serving side noticing the exit, take a while)
        report("published", 1.0, {"child": child_name})
        report("done", 1.0, metrics)
        return FinetuneResult(run_id, parent.name, child_name, path, metrics)
    except BaseException as exc:  # KeyboardInterrupt too: the run must not stay 'running'
        store.fail_run(run_id, f"{type(exc).__name__}: {exc}")
        raise


def _as_image_model(module, record: CheckpointRecord, models_dir: str | os.PathLike | None = None) -> ImageModel:
    return ImageModel(module, record, None, device="cpu", models_dir=models_dir)


def publish_child(
    store: FeedbackStore,
    run_id: int,
    parent_id: int,
    module,
    record: CheckpointRecord,
    folder: Path,
    owner: str | None = None,
    published: bool = True,
) -> Path:
    """Write hidden → register version + mark run succeeded → rename into place (see module doc)."""
    final = folder / f"{record.name}{SUFFIX}"
    pending = folder / f"{PENDING_PREFIX}{record.name}{SUFFIX}"
    save_final(pending, module, record)
    write_card(final, record)

    child = store.register_version(
        record.name,
        module.kind,
        str(final),
        file_sha256(pending),
        dataset=record.dataset,
        parent_id=parent_id,
        metrics=record.extra.get("metrics"),
        config=record.config,
        latent_dim=module.latent_dim,
        owner=owner,
        published=published,
    )
    store.finish_run(run_id, child.id, record.extra.get("metrics"))
    os.replace(pending, final)
    return final


def recover(store: FeedbackStore, folder: Path | None = None) -> list[str]:
    """At start-up: finish renames a kill interrupted; delete pending files no version claims."""
    folder = paths.models_dir(folder)
    actions: list[str] = []
    if not folder.is_dir():
        return actions
    for pending in folder.glob(f"{PENDING_PREFIX}*{SUFFIX}"):
        name = pending.name[len(PENDING_PREFIX) : -len(SUFFIX)]
        version = store.get_version(name)
        final = folder / f"{name}{SUFFIX}"
        if version is not None and Path(version.checkpoint_path) == final and not final.exists():
            os.replace(pending, final)
            actions.append(f"completed {name}")
        else:
            pending.unlink()
            final.with_suffix(".md").unlink(missing_ok=True) if not final.exists() else None
            actions.append(f"discarded unfinished {name}")
    return actions


def print_progress_json(stage: str, fraction: float, info: dict) -> None:
    """Progress as JSON lines on stdout: how a background process tells the page how far it is."""
    print(
        json.dumps(
            {
                "stage": stage,
                "progress": round(fraction, 4),
                **{k: v for k, v in info.items() if isinstance(v, (int, float, str))},
            }
        ),
        flush=True,
    )
