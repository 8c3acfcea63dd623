"""How a fine-tuning run is configured: the one table of per-kind defaults and the config dataclass.

Its own module so that the run (`finetune`), its data (`finetune_data`) and its report (`effect`)
all read one copy without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from aigc.feedback.ratings import READINESS

# Measured with benchmarks/feedback_loop.py (200 ratings, three tastes). GAN: 600 steps at half the
# training lr reach 0.84-0.89 liked; its precision against all real images is then what the parent's
# own samples of the liked classes score (fewer steps fell short of 0.8 liked for some tastes).
# VAE: it must re-map its whole prior onto the liked data, ~10 passes over the reweighted set (3000
# steps, ~1 min on 2 cores). The child samples a prior fitted to its aggregate posterior
# (`fit_prior`), so the KL term no longer has to make q(z) match N(0, I); at full weight it kept the
# decoder so blurry that even its reconstructions of liked test images covered only 27% of them
# (k-NN recall). At 0.1 the child's recall against the liked images went 0.32 → 0.52.
KIND_DEFAULTS = {
    "gan": {"steps": 600, "lr_scale": 0.5, "tilt_kernel": 0.1},
    "vae": {"steps": 3000, "lr_scale": 1.0, "kl_weight": 0.1, "tilt_kernel": 0.2},
}


def defaults_text(key: str) -> str:
    """One default in words for help texts, e.g. 'GAN 600, VAE 3000': read from the table, never retyped."""
    return ", ".join(f"{kind.upper()} {values[key]}" for kind, values in KIND_DEFAULTS.items() if key in values)


@dataclass
class FinetuneConfig:
    steps: int | None = None  # None → the kind's default (KIND_DEFAULTS)
    batch_size: int = 64
    lr_scale: float | None = None  # fine-tuning lr = the kind's training lr × this; None → the kind's default
    reward_temperature: float | None = None  # β of w ∝ P(liked)^(1/β); None → chosen from the ESS floor
    ess_floor: float = 0.1  # 0.2 held a one-class taste (bags) to 0.72 liked; at 0.1 it reached 0.98
    min_ratings: int = READINESS.min_ratings  # the readiness rule's total (likes and dislikes: its minimum each)
    rater: str | None = None  # only this rater's ratings (default: everyone's)
    owner: str | None = None  # whose run this is: the child version is theirs (roles, aigc.service.roles)
    private: bool = False  # register the child unpublished: only its owner and admins see it until published
    job_id: int | None = None  # the queue job running it (aigc worker): kept in the run's config for the reaper
    data: str | None = None  # training data override (default: the parent's dataset)
    self_samples: int = 10000  # used instead when the training data cannot be found
    tilt: bool = True  # steer the child's latent prior towards the taste afterwards (latent_prior.py)
    tilt_kernel: float | None = None  # its kernel scale; None → the kind's default (KIND_DEFAULTS)
    fit_prior: bool = True  # VAE: sample from a Gaussian mixture fitted to the reweighted data's posterior
    prior_components: int = 20  # its components (Ghosh et al. use 10; 20 measured a little better recall here)
    kl_weight: float | None = None  # VAE: the ELBO's KL weight while fine-tuning (β-VAE); None → the kind's default
    max_examples: int = 20000  # random subset of the training data (steps × batch rarely sees more)
    seed: int = 0
    threads: int | None = None
    eval_n: int = 1000
    child_name: str | None = None
    progress: bool = True
