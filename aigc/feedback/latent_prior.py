"""A child's latent prior tilted towards the taste: draw z where the reward model expects a like.

Weighted training moves the generator towards the liked data, but the few hundred steps two CPU
cores allow move it only part of the way (GAN children of a 0.3-liked parent reached 0.65-0.8). The
rest is cheap in latent space: draw many z from the child's own prior, decode them, score each
picture with the reward model, and keep z in proportion to P(liked)^(1/β), the child's latent
distribution tilted towards the taste: p(z | liked) ∝ p(z) P(liked | G(z))^(1/β). The kept z become
the centres of a kernel mixture that goes into the child's record as its prior (`aigc.models.prior`),
so a seed still gives the same picture forever and the explorer, interpolation and sharing need
nothing new.

It is the VAE's fitted prior (`aggregate_posterior`) for models that cannot encode: a GAN has no
posterior to fit, but its decoder and a reward on its pictures are enough. The run's figures stay
honest: they are graded by the cross-fitted fold models, not the model that chose these z
(`effect.measure_effect`), and the benchmark grades them with the rater's true taste.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from aigc.feedback.reward import effective_sample_size, tilt
from aigc.models.pipeline import Generated, ImageModel


def check_kernel(kernel: float) -> float:
    """The one bound on the tilt's kernel scale, checked when a TiltConfig is built (a run builds its first)."""
    if not 0.0 <= kernel <= 1.0:
        raise ValueError(f"the tilt's kernel scale must be between 0 and 1, got {kernel}")
    return kernel


def check_temperature(temperature: float) -> float:
    """The one bound on the tilt's temperature β: below 0.1 it keeps a handful of draws; above 2 it barely tilts."""
    if not 0.1 <= temperature <= 2.0:
        raise ValueError(f"the tilt's temperature must be between 0.1 and 2, got {temperature}")
    return temperature


# The adaptive β (TiltConfig.temperature None): from the first, P(liked)², down to P(liked)^10, the first at
# which the kept draws' mean P(liked) reaches SURE_ENOUGH, never past the one that keeps fewer than
# MIN_ESS_FRACTION of the draws' effective sample size (variety: the centres would repeat a handful of draws).
TEMPERATURES = (0.5, 0.35, 0.25, 0.15, 0.1)
SURE_ENOUGH = 0.9
MIN_ESS_FRACTION = 0.05

MAX_TILT_DRAWS = 50_000  # decoded and scored in one go: ~10 s per 10,000 on two cores, and their memory
# the child's checkpoint holds one mean per distinct centre, as JSON in its header: ~0.6 kB each for a 64-d latent
TILT_COMPONENTS_RANGE = (16, 16_384)


@dataclass(frozen=True)
class TiltConfig:
    draws: int = 8000  # z drawn from the child's own prior and scored (~1 s per 1,000 on one core)
    # z resampled by weight: the kernel mixture's centres. 4,096, was 1,024: more distinct centres cover more of
    # the liked region. On both parents' 13 tastes (one rating set, benchmarks/results_feedback_gan_probes.jsonl
    # and _vae_probes.jsonl): mean recall of the liked images GAN 0.574 → 0.639, VAE 0.623 → 0.659, liked rate
    # 0.948 → 0.948 and 0.942 → 0.942, precision +0.006 and +0.005; recall rose in 13 of 13 and 10 of 13 runs
    components: int = 4096
    kernel: float = 0.25  # each centre's isotropic scale, × the draws' own spread (0: replay the centres)
    # β: draws kept ∝ P(liked)^(1/β). 1 would be the Bayesian p(z | liked), if P(liked) were the taste itself;
    # it is a reward model's estimate from ~100 thumbs, and a careless rater's contradicting thumbs keep it
    # off 0 and 1 (a disliked kind stays at ~0.15). TEMPERATURES[0] = 0.5, P(liked)², was measured on
    # the shipped parents (9 tastes each, 3 rating sets, no fine-tune): liked share of the kept draws +0.00 to
    # +0.16 (careless raters gain most), recall of the liked real images within 0.04.
    # None (a run's default): adaptive, `choose_temperature`. A careless rater's reward model is unsure (its P(liked)
    # stays between ~0.2 and ~0.8), so P(liked)² kept draws whose mean P(liked) was 0.60-0.87 and the children
    # reached 0.56-0.83 of the true taste; a sure one's draws are already at 0.9-1.0 and keep β = 0.5.
    temperature: float | None = None
    # The share of the draws the tilt may keep, the ones most like a real image (`realism` of tilted_prior):
    # the rest (speckle, smears, half-drawn items) never become centres, whatever the reward says. 1: all.
    realism_keep: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:  # the bounds' one home: a run builds its TiltConfig before training
        check_kernel(self.kernel)
        low, high = TILT_COMPONENTS_RANGE
        if not low <= self.components <= high:
            raise ValueError(f"the tilt's centres must be between {low} and {high}, got {self.components}")
        if not 0.5 <= self.realism_keep <= 1.0:
            raise ValueError(f"the tilt's realism share must be between 0.5 and 1, got {self.realism_keep}")
        if self.temperature is not None:
            check_temperature(self.temperature)


def choose_temperature(p: np.ndarray) -> float:
    """The largest β of TEMPERATURES whose tilted draws have a mean P(liked) ≥ SURE_ENOUGH, stopping before
    a β that would leave under MIN_ESS_FRACTION of the draws' effective size (the smallest allowed otherwise)."""
    chosen = TEMPERATURES[0]
    for beta in TEMPERATURES:
        w = tilt(p, beta)
        if beta != TEMPERATURES[0] and effective_sample_size(w) / len(w) < MIN_ESS_FRACTION:
            break
        chosen = beta
        if float((w * p).sum() / w.sum()) >= SURE_ENOUGH:
            break
    return chosen


def tilted_prior(
    model: ImageModel,
    liked_probability: Callable[[np.ndarray], np.ndarray],
    cfg: TiltConfig | None = None,
    realism: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[dict, dict]:
    """(prior record for `model`'s checkpoint, a summary): a kernel mixture over z ~ p(z) P(liked | decode(z))^(1/β).

    liked_probability: (N, H, W, C) uint8 pictures → (N,) P(liked), the run's reward model.
    A kernel mixture, not a fitted Gaussian mixture: the liked region of a generator's latent space is
    not a union of a few Gaussian blobs. Measured on the shipped GAN (two tastes, 100 ratings, no
    fine-tune): a 16-component mixture fitted to the tilted draws kept 0.70 and 0.78 liked, where the
    draws themselves were 0.91 and 0.81; centres at the draws with a small scale (0.3) kept 0.76 and 0.78,
    and the scale trades the taste for variety (0.5: 0.65 and 0.68).
    realism: pictures → (N,) how much each looks like a real image (higher: more); with cfg.realism_keep < 1
    only that share of the draws, the most real-looking, can become centres.
    """
    cfg = cfg or TiltConfig()
    generated = draw_for_tilt(model, cfg.draws, cfg.seed)
    p = np.asarray(liked_probability(generated.images), np.float64)
    eligible = None
    if realism is not None and cfg.realism_keep < 1.0:
        eligible = most_real(np.asarray(realism(generated.images), np.float64), cfg.realism_keep)
    return tilt_from_scores(np.asarray(generated.latents, np.float64), p, cfg, eligible)


def most_real(looks: np.ndarray, keep: float) -> np.ndarray:
    """(N,) bool: the `keep` share of the draws that look most real by `looks` (higher: more), the ones the
    tilt may make centres; one home for the rule, which `benchmarks/tilt_offline.py` ranks offline."""
    return looks >= np.quantile(looks, 1.0 - keep)


def draw_for_tilt(model: ImageModel, draws: int, seed: int) -> Generated:
    """A tilt's draws of `model`: a seed stream apart from the run's evaluation seeds (`seed` is the run's);
    only this run scores these pictures, so any thread count (`portable=False`)."""
    return model.generate(draws, seed + 7919, portable=False)


def tilt_picks(p: np.ndarray, cfg: TiltConfig, eligible: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(indices of the draws picked as centres, cfg.components of them with repeats; the normalised weights;
    β): the tilt's one choice among scored draws, which `benchmarks/tilt_offline.py` grades without a child."""
    temperature = choose_temperature(p[eligible]) if cfg.temperature is None else cfg.temperature
    w = np.where(eligible, tilt(p, temperature), 0.0)
    w = w / w.sum()
    drawn = torch.multinomial(
        torch.from_numpy(w), cfg.components, replacement=True, generator=torch.Generator().manual_seed(cfg.seed)
    ).numpy()
    return drawn, w, temperature


def tilt_from_scores(
    z: np.ndarray, p: np.ndarray, cfg: TiltConfig, eligible: np.ndarray | None = None
) -> tuple[dict, dict]:
    """`tilted_prior` once its draws are scored: z (N, D) float64 draws, p (N,) their P(liked), eligible (N,)
    the ones that may become centres (None: all). Apart so that scored draws kept on disk (`tilt_draws`) tilt
    exactly as freshly decoded ones."""
    p = np.asarray(p, np.float64)
    eligible = np.ones(len(p), bool) if eligible is None else eligible
    drawn, w, temperature = tilt_picks(p, cfg, eligible)
    centres, counts = np.unique(drawn, return_counts=True)
    spread = float(np.sqrt(z.var(0).mean()))
    record = {
        "weights": [round(float(c) / cfg.components, 6) for c in counts],
        "means": [[round(float(v), 5) for v in z[i]] for i in centres],
        "scale": round(cfg.kernel * spread, 6),
    }
    summary = {
        "tilt_draws": cfg.draws,
        "tilt_components": cfg.components,
        "tilt_temperature": temperature,
        "tilt_centres": int(len(centres)),
        "tilt_scale": record["scale"],
        "tilt_mean_p_before": round(float(p.mean()), 4),
        "tilt_mean_p_drawn": round(float(p[drawn].mean()), 4),  # the steering model's own view: not a grade
        "tilt_ess_fraction": round(effective_sample_size(w) / len(w), 4),
        "tilt_realism_keep": round(float(eligible.mean()), 4),
    }
    return record, summary
