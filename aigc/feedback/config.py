"""How a fine-tuning run is configured: the one table of per-kind defaults and the config dataclass.

Its own module so that the run (`finetune`), its data (`finetune_data`) and its report (`effect`)
all read one copy without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aigc.feedback.ratings import READINESS

# Measured with benchmarks/feedback_loop.py on the shipped parents (100 ratings, the tuning tastes of
# aigc/evaluation/raters.py). Since the latent tilt (latent_prior.py) does much of the steering, training
# needs fewer steps than it did alone:
# - GAN (until the step below): 225 steps at 0.9 × the training lr, then the tilt: was 400 at half the lr, a loop of
#   84-98 s on the 2-core machine; on 4 tastes, 250 × 0.8 and 200 × 1.0 moved the liked rate by -0.012 to +0.018 and
#   precision by -0.07 to +0.03, and 250 steps took 63-64 s. Its latent space is touchy (a kernel of 0.3 kept 0.82 liked
#   where 0.1 kept 0.93 on the parent alone), hence the small kernel. 600 steps without the tilt reached 0.65-0.91.
# - VAE (until the step below): 400 steps at 2.5 × the training lr (was 1000 × 1.0, a loop of 119-135 s), then its prior
#   fitted to the aggregate posterior of the reweighted data (`fit_prior`), then the tilt. Kernel 0.2 kept 0.92-0.99
#   liked but recall of the liked images fell to 0.46-0.59; 0.35 kept 0.90-0.99 at recall 0.55-0.69 and cost precision
#   on two tastes: 0.3 sits between. On today's shipped VAE (adaptive β, realism filter, perceptual term) 0.2 is
#   the default: surer of the taste and more precise for a little variety, and no target lost (its figures: the
#   README's "The VAE's tilt kernel", and docs/FEEDBACK_MEASUREMENTS.md, "stop 56").
#   The KL weight 0.1 frees the encoder from N(0, I) (the child samples its fitted prior); at full weight
#   the decoder stayed so blurry its reconstructions of liked test images covered only 27% of them.
#   Its tilt scored 4,000 draws, not 8,000, while its loop stood at 60-63 s (decoding and scoring 8,000
#   took ~5 s); at 400 steps the loop has room, and 8,000 draws give a sharp tilt (β 0.1) more distinct
#   centres: on 5 tastes recall of the liked images 0.53 → 0.59 on average (bright-careless 0.54 → 0.66,
#   textured-careless 0.44 → 0.68), liked rate 0.856 → 0.861, 2-4 s more.
#   Re-probed on the second-stage VAE: kernels 0.35 and 0.4 moved along the same trade (recall up to 0.61 /
#   0.65, liked down to 0.87 / 0.85), and 500 steps cut the loop by ~30 s but lost 0.01-0.14 of liked rate.
#   On the third-stage (shipped) VAE, 5 tastes: 400 × 2.5 kept the liked rate (mean 0.919 against 0.912 at
#   1000 × 1.0 in the README's table; 450 × 2.0: 0.919; 450 × 1.0: 0.900) in loops of 37-41 s, and
#   two-classes' recall rose 0.42 → 0.64 (benchmarks/results_feedback_vae_steps_probes.jsonl).
# The kernels were chosen with the tilt at P(liked); it now keeps P(liked)² (latent_prior.TiltConfig), which
# raised the GAN's liked rates (8 → 11 of 13 tastes at target) at about the same recall.
# realism_keep (0.85): the tilt's centres come from the 85% of its draws most like a real image. On 6 VAE
# tastes precision rose in all 6 (+0.01 to +0.04) at liked rate −0.02 to +0.04. On the GAN it was noise-sized
# (+0.04, +0.05, −0.03, −0.04 on 4 tastes) while its generator fine-tuned on N(0, I); fine-tuned on its parent's
# tilt (train_latents), 13 tastes: mean precision 0.752 → 0.772, liked rate 0.942 → 0.951, recall 0.640 → 0.624.
# "Most like a real image" is the realism score of Kynkäänniemi et al. (2019), how far inside some real image's
# own k-NN ball (before: the nearest real image's cosine similarity); both measured in docs/FEEDBACK_MEASUREMENTS.md.
# Fewer steps, so the loop fits a slow day of the 2-core machine (it runs up to ~1.45x slower from day to day):
# at GAN 225 × 0.9 and VAE 400 × 2.5 the loops took 56-61 s and 62-77 s on such a day. Measured that day on
# both models' 13 tastes (same rating seeds): GAN 200 × 1.0 (the same steps × lr) kept the mean liked rate
# (0.946 → 0.948), precision (0.702 → 0.703) and recall (0.584 → 0.574) in loops of 47-58 s; VAE 250 × 2.5
# moved them 0.950 → 0.944, 0.872 → 0.866, 0.611 → 0.602 in 43-52 s (250 × 3.5 on 6 tastes: no better),
# before the perceptual network went channels-last (docs/FEEDBACK_MEASUREMENTS.md). A GAN fine-tunes its
# generator on its parent's tilt (FinetuneConfig.train_latents): 13 tastes, mean precision 0.709 → 0.752.
KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "gan": {
        "steps": 200,
        "lr_scale": 1.0,
        "tilt_kernel": 0.1,
        "tilt_draws": 8000,
        "realism_keep": 0.85,
        "train_latents": "tilt",
    },
    "vae": {
        "steps": 250,
        "lr_scale": 2.5,
        "kl_weight": 0.1,
        "tilt_kernel": 0.2,
        "tilt_draws": 8000,
        "realism_keep": 0.85,
    },
}


def defaults_text(key: str) -> str:
    """One default in words for help texts, e.g. 'GAN 200, VAE 250': read from the table, never retyped."""
    return ", ".join(f"{kind.upper()} {values[key]}" for kind, values in KIND_DEFAULTS.items() if key in values)


WEIGHTS_BY = ("chosen", "steering")  # FinetuneConfig.weights_by
TRAIN_LATENTS = ("normal", "tilt")  # FinetuneConfig.train_latents


@dataclass
class FinetuneConfig:
    steps: int | None = None  # None → the kind's default (KIND_DEFAULTS)
    batch_size: int = 64
    lr_scale: float | None = None  # fine-tuning lr = the kind's training lr × this; None → the kind's default
    reward_temperature: float | None = None  # β of w ∝ P(liked)^(1/β); None → chosen from the ESS floor
    view_margin: float | None = None  # the reward's RewardConfig.view_margin; None → its default
    view_combine: str | None = None  # the reward's RewardConfig.view_combine; None → its default
    # what weighs the real training images: "chosen", the reward's chosen view (RewardModel.predict_chosen), or
    # "steering", every view combined as for the tilt (RewardModel.predict; the default until measured worse)
    weights_by: str = "chosen"  # one of WEIGHTS_BY
    ess_floor: float = 0.1  # 0.2 held a one-class taste (bags) to 0.72 liked; at 0.1 it reached 0.98
    min_ratings: int = READINESS.min_ratings  # the readiness rule's total (likes and dislikes: its minimum each)
    rater: str | None = None  # only this rater's ratings (default: everyone's)
    use_picks: bool = True  # read the lineage's blind A/B picks as Bradley–Terry evidence beside the ratings
    owner: str | None = None  # whose run this is: the child version is theirs (roles, aigc.service.roles)
    private: bool = False  # register the child unpublished: only its owner and admins see it until published
    job_id: int | None = None  # the queue job running it (aigc worker): kept in the run's config for the reaper
    data: str | None = None  # training data override (default: the parent's dataset)
    self_samples: int = 10000  # used instead when the training data cannot be found
    tilt: bool = True  # steer the child's latent prior towards the taste afterwards (latent_prior.py)
    # GAN: a parent that keeps only the draws its discriminator passes (aigc.models.acceptance) has a child
    # with a rule of its own, fitted on the child's draws; False: every draw of the child is a sample
    child_filter: bool = True
    child_keep: float | None = None  # its rule's one keep share (acceptance.check_keep); None → the parent's shares
    # GAN: the z its generator is fine-tuned on: "normal", N(0, I), or "tilt", the parent's own latent tilt
    # towards the taste (the run's TiltConfig on the parent's draws; the child's tilt then draws from it too).
    # None → the kind's default ("tilt" for a GAN, with the tilt on). A VAE trains on its encoder's z: "normal".
    train_latents: str | None = None  # one of TRAIN_LATENTS
    tilt_kernel: float | None = None  # its kernel scale; None → the kind's default (KIND_DEFAULTS)
    tilt_draws: int | None = None  # the child's own samples it scores; None → the kind's default
    tilt_components: int | None = None  # the centres it draws (latent_prior.TiltConfig.components); None → its default
    tilt_temperature: float | None = None  # its β (draws kept ∝ P(liked)^(1/β)); None → chosen from the draws
    # the share of its draws, the most like a real image under the parent's perceptual network, that may become
    # centres (latent_prior.TiltConfig.realism_keep); None → the kind's default; 1: all
    realism_keep: float | None = None
    fit_prior: bool = True  # VAE: sample from a Gaussian mixture fitted to the reweighted data's posterior
    # Continue with the perceptual term the parent was trained with, when its network is among the models
    # (aigc.training.perceptual.inherited). VAE: the ELBO alone undoes what the term taught the decoder. GAN (its
    # second stage's term, each picture pulled towards its nearest real image): without it the children fell
    # below their parent's precision. Its figures before → after have one home: the README, step 4 of the loop.
    perceptual: bool = True
    prior_components: int = 20  # its components (Ghosh et al. use 10; 20 measured a little better recall here)
    # its EM iterations: on the shipped VAE, 40 fitted 5,000 posteriors in 2.9 s where 100 took 6.4 s, at
    # the same held-out log-likelihood (−36.47 vs −36.45 per image; 20: −36.73)
    prior_iters: int = 40
    kl_weight: float | None = None  # VAE: the ELBO's KL weight while fine-tuning (β-VAE); None → the kind's default
    max_examples: int = 20000  # random subset of the training data (steps × batch rarely sees more)
    seed: int = 0
    threads: int | None = None
    eval_n: int = 1000
    child_name: str | None = None
    progress: bool = True

    def command(self, parent: str) -> str:
        """The child card's recipe: the command that reruns this fine-tune on the same database. A run on one
        rater's ratings says RATER: a card is shown to every visitor, and an anonymous rater id is the cookie
        that makes a browser that person (the database's run row names them)."""
        words = [f"aigc finetune {parent}", *([f"--steps {self.steps}"] if self.steps else [])]
        words += [f"--seed {self.seed}"] if self.seed else []
        if self.rater is None:
            return " ".join(words)
        return " ".join([*words, "--rater RATER"]) + "  # RATER: the one person whose ratings it used"
