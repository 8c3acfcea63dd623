"""What one optimisation step means for each model kind; the loop in `train.py` owns everything else.

Each objective takes a batch plus optional per-example weights. Weights enter the loss as a
weighted mean (normalised by their sum), so a batch drawn by a weighted sampler with weighting
'sampler' and a uniform batch with weighting 'loss' target the same reweighted distribution.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import torch
import torch.nn.functional as F
from torch import nn

from aigc.models.prior import MixturePrior
from aigc.training.distributed import no_sync
from aigc.training.perceptual import NearestRealImages, PerceptualDistance

if TYPE_CHECKING:
    from aigc.models.gan import GAN
    from aigc.models.vae import VAE

Wrap = Callable[[nn.Module], nn.Module]  # data-parallel runs: module → DDP(module); None: the module itself


def _adam(params, lr: float, adam_betas: tuple[float, float], device: torch.device) -> torch.optim.Adam:
    # Fused Adam pays on CUDA; on a CPU with these small models it measured slower than the default
    # kernel (benchmarks/train_throughput.py: 747 vs 837 images/s), so it is used on CUDA only.
    return torch.optim.Adam(params, lr=lr, betas=adam_betas, fused=True if device.type == "cuda" else None)


def _weighted_mean(values: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    return values.mean() if weights is None else (values * weights).sum() / weights.sum()


@dataclass
class StepInput:
    images: torch.Tensor  # (B, C, H, W) in [-1, 1]
    labels: torch.Tensor | None  # (B,) or None
    weights: torch.Tensor | None  # (B,) loss weights, or None
    generator: torch.Generator  # all noise of this step, so a resumed run repeats exactly
    rows: slice | None = None  # data-parallel: this rank's rows of the step's global batch; None: all of it
    global_batch: int = 0  # data-parallel: rows of the global batch (noise is drawn for all of them, then sliced)
    weight_scale: float | None = None  # data-parallel loss weighting: rank's weight sum × ranks / global sum

    def normal(self, dim: int) -> torch.Tensor:
        """(B, dim) standard normal noise of this step, on CPU; a rank gets its rows of the global batch's noise."""
        if self.rows is None:
            return torch.randn(self.images.shape[0], dim, generator=self.generator)
        return torch.randn(self.global_batch, dim, generator=self.generator)[self.rows]

    def uniform(self) -> torch.Tensor:
        """(B,) uniform numbers in [0, 1) of this step (drawn after `normal`), a rank's rows as `normal` gives them."""
        n = self.images.shape[0] if self.rows is None else self.global_batch
        u = torch.rand(n, generator=self.generator, dtype=torch.float64)
        return u if self.rows is None else u[self.rows]

    def scaled(self, loss: torch.Tensor) -> torch.Tensor:
        """A weighted mean over this rank's rows, rescaled so DDP's average over ranks is the global weighted mean."""
        return loss if self.weight_scale is None else loss * self.weight_scale


class GeneratorAverage:
    """An exponential moving average of the generator's weights (Karras et al. 2018; Yazıcı et al. 2019).

    Why: a GAN's generator oscillates around a good solution from step to step; the raw weights at
    the last step carry that step's speckle and broken outlines, the average does not. It costs one
    lerp per step and is what gets shipped. BatchNorm running statistics are copied from the live
    generator (they describe activations, not weights), then re-estimated for the averaged weights by
    `recalibrate`. The decay warms up as min(decay, (1 + t) / (10 + t)), so early averages forget the
    random initialisation quickly.
    """

    def __init__(self, generator: nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"the EMA decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.average = copy.deepcopy(generator).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, generator: nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        torch._foreach_lerp_(list(self.average.parameters()), list(generator.parameters()), 1.0 - d)
        for mine, live in zip(self.average.buffers(), generator.buffers()):
            mine.copy_(live)

    def state(self) -> dict[str, torch.Tensor]:
        return {
            **{f"ema.{k}": v.detach().clone() for k, v in self.average.state_dict().items()},
            "ema_updates": torch.tensor(self.updates),
        }

    def load(self, tensors: dict[str, torch.Tensor]) -> None:
        state = {k[len("ema.") :]: v for k, v in tensors.items() if k.startswith("ema.")}
        if state:  # a resume file from a run without EMA starts the average from the live weights
            self.average.load_state_dict(state)
            self.updates = int(tensors["ema_updates"])

    @torch.no_grad()
    def install(self, generator: nn.Module, latent_dim: int, seed: int, batches: int = 50, batch: int = 256) -> None:
        """Copy the averaged weights into `generator` and re-estimate its BatchNorm statistics for them."""
        generator.load_state_dict(self.average.state_dict())
        recalibrate_batchnorm(generator, latent_dim, seed, batches, batch)


@torch.no_grad()
def recalibrate_batchnorm(
    generator: nn.Module, latent_dim: int, seed: int, batches: int = 50, batch: int = 256
) -> None:
    """Running BatchNorm statistics as the cumulative mean over `batches` fresh latent batches ("standing statistics").

    Averaged weights produce activations whose statistics the live run never saw; eval-mode
    BatchNorm must normalise with theirs, or the average's images come out washed out.
    """
    norms = [m for m in generator.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    was_training = generator.training
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: every batch counts equally
    generator.train()
    device = next(generator.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    for _ in range(batches):
        generator(torch.randn(batch, latent_dim, generator=gen).to(device))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    generator.train(was_training)


class GANObjective:
    """DCGAN's non-saturating losses or the hinge loss (per the model's config); weights scale the
    discriminator's real term (what 'real' should look like).

    ema_decay > 0 keeps a `GeneratorAverage`; `finish()` installs it into the model at the end of a run.
    """

    def __init__(
        self,
        model: nn.Module,
        lr: float,
        adam_betas: tuple[float, float],
        device: torch.device,
        wrap: Wrap | None = None,
        ema_decay: float = 0.0,
        perceptual: str | None = None,
        perceptual_weight: float = 0.0,
        real_images: torch.Tensor | None = None,
        latent_prior: dict | None = None,
    ):
        gan = cast("GAN", model)  # the registry of objectives passes every kind an nn.Module
        self.prior = MixturePrior.from_record(latent_prior)  # None: z ~ N(0, I)
        self.model = gan
        self.ema = GeneratorAverage(gan.generator, ema_decay) if ema_decay > 0 else None
        self.perceptual_weight = perceptual_weight
        self.nearest: NearestRealImages | None = None
        if perceptual is not None:
            if real_images is None:
                raise ValueError("a GAN's perceptual term needs the training images (its targets are the nearest)")
            distance = _perceptual_network(perceptual, perceptual_weight, gan.cfg, device)
            self.nearest = NearestRealImages(distance, real_images)
        # Data-parallel: each network in its own DDP (two optimisers, two gradient all-reduces).
        self.g, self.d = (wrap(gan.generator), wrap(gan.discriminator)) if wrap else (gan.generator, gan.discriminator)
        self.optimizers = {
            "g": _adam(gan.generator.parameters(), lr, adam_betas, device),
            "d": _adam(gan.discriminator.parameters(), lr, adam_betas, device),
        }

    def step(self, batch: StepInput) -> dict[str, float]:
        g, d = self.g, self.d
        opt_g, opt_d = self.optimizers["g"], self.optimizers["d"]
        z = self._latents(batch).to(batch.images.device)
        fake = g(z)
        logits_real = d(batch.images)
        logits_fake = d(fake.detach())
        hinge = self.model.cfg.loss == "hinge"
        per_real = (
            F.relu(1.0 - logits_real)
            if hinge
            else F.binary_cross_entropy_with_logits(logits_real, torch.ones_like(logits_real), reduction="none")
        )
        loss_real = batch.scaled(_weighted_mean(per_real, batch.weights))
        loss_fake = (
            F.relu(1.0 + logits_fake).mean()
            if hinge
            else F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake))
        )
        loss_d = loss_real + loss_fake
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        # D's gradients from the generator's loss would be discarded: no all-reduce, and with D's weights frozen
        # for this forward its backward computes only the picture's gradient (~12% of a step, same result)
        with no_sync(d), _frozen(cast(nn.Module, d)):
            logits_gen = d(fake)
        loss_g = (
            -logits_gen.mean() if hinge else F.binary_cross_entropy_with_logits(logits_gen, torch.ones_like(logits_gen))
        )
        nearest = {}
        if self.nearest is not None:  # pull each picture towards the real image it most resembles
            distance = self.nearest.distance(self.nearest(fake.detach()), fake).mean()
            loss_g = loss_g + self.perceptual_weight * distance
            nearest = {"nearest": distance.item()}
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        if self.ema is not None:
            self.ema.update(self.model.generator)
        return {
            "loss_d": loss_d.item(),
            "loss_g": loss_g.item(),
            "d_real": torch.sigmoid(logits_real.detach()).mean().item(),
            **nearest,
        }

    def _latents(self, batch: StepInput) -> torch.Tensor:
        """This step's z: N(0, I), or the training prior's (its component picked by a uniform of the same stream)."""
        eps = batch.normal(self.model.latent_dim)
        if self.prior is None:
            return eps
        uniform = batch.uniform()
        return torch.from_numpy(self.prior.sample(eps.numpy(), uniform.numpy()))

    def extra_state(self) -> dict[str, torch.Tensor]:
        """What a resumable checkpoint needs besides the model and optimisers."""
        return self.ema.state() if self.ema is not None else {}

    def load_extra_state(self, tensors: dict[str, torch.Tensor]) -> None:
        if self.ema is not None:
            self.ema.load(tensors)

    def finish(self, seed: int) -> None:
        """End of a completed run: the shipped generator is the average, when there is one."""
        if self.ema is not None:
            self.ema.install(self.model.generator, self.model.latent_dim, seed)


@contextlib.contextmanager
def _frozen(module: nn.Module) -> Iterator[None]:
    """Forwards inside record no gradient for `module`'s own weights (their requires_grad is restored after)."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


class _Loss(nn.Module):
    """`model.loss(...)` as a forward(): DDP synchronises gradients only of what runs through forward()."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, *args, **kwargs):
        return self.model.loss(*args, **kwargs)


class VAEObjective:
    """The weighted negative ELBO, plus `perceptual_weight` × a `PerceptualDistance` to the images when a
    perceptual network is given (a path to a classifier checkpoint; see `aigc.training.perceptual`)."""

    def __init__(
        self,
        model: nn.Module,
        lr: float,
        adam_betas: tuple[float, float],
        device: torch.device,
        wrap: Wrap | None = None,
        perceptual: str | None = None,
        perceptual_weight: float = 0.0,
    ):
        self.model = cast("VAE", model)  # the registry of objectives passes every kind an nn.Module
        self.ddp_loss = wrap(_Loss(model)) if wrap else None
        self.optimizers = {"vae": _adam(model.parameters(), lr, adam_betas, device)}
        self.perceptual: PerceptualDistance | None = None
        self.perceptual_weight = perceptual_weight
        if perceptual is not None:
            self.perceptual = _perceptual_network(perceptual, perceptual_weight, cast("VAE", model).cfg, device)

    def _perceptual_term(self, images: torch.Tensor, decoded: torch.Tensor) -> torch.Tensor:
        assert self.perceptual is not None
        return self.perceptual_weight * self.perceptual(images, decoded)

    def step(self, batch: StepInput) -> dict[str, float]:
        term = self._perceptual_term if self.perceptual is not None else None
        if self.ddp_loss is None:
            loss, parts = self.model.loss(
                batch.images,
                batch.weights,
                generator=batch.generator if batch.images.device.type == "cpu" else None,
                perceptual=term,
            )
        else:  # data-parallel: eps is this rank's rows of the global batch's noise, on any device
            loss, parts = self.ddp_loss(
                batch.images,
                batch.weights,
                eps=batch.normal(self.model.latent_dim).to(batch.images.device),
                perceptual=term,
            )
            loss = batch.scaled(loss)
        opt = self.optimizers["vae"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.item(), **parts}


class ClassifierObjective:
    def __init__(
        self,
        model: nn.Module,
        lr: float,
        adam_betas: tuple[float, float],
        device: torch.device,
        wrap: Wrap | None = None,
    ):
        self.model = model
        self.net = wrap(model) if wrap else model
        self.optimizers = {"clf": _adam(model.parameters(), lr, adam_betas, device)}

    def step(self, batch: StepInput) -> dict[str, float]:
        if batch.labels is None:
            raise ValueError("training a classifier needs a labelled dataset (Fashion-MNIST or MNIST IDX files)")
        logits = self.net(batch.images)
        loss = batch.scaled(_weighted_mean(F.cross_entropy(logits, batch.labels, reduction="none"), batch.weights))
        opt = self.optimizers["clf"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.item(), "acc": (logits.argmax(1) == batch.labels).float().mean().item()}


OBJECTIVES = {"gan": GANObjective, "vae": VAEObjective, "classifier": ClassifierObjective}


def _perceptual_network(path: str, weight: float, cfg, device: torch.device) -> PerceptualDistance:
    """The frozen network of a perceptual term, refused before the first step when it cannot serve this model."""
    if not (math.isfinite(weight) and weight > 0):
        raise ValueError(f"the perceptual weight must be a positive number, got {weight}")
    network = PerceptualDistance.load(path).to(device)
    network.check_images((cfg.channels, cfg.image_size, cfg.image_size))
    return network


def objective_options(
    kind: str,
    ema_decay: float,
    perceptual: str | None,
    perceptual_weight: float,
    images: torch.Tensor | None = None,
    latent_prior: dict | None = None,
) -> dict:
    """The keyword options a run's `TrainConfig` gives its kind's objective (GAN: the generator's moving
    average; GAN and VAE: the perceptual term, whose GAN targets are the nearest of the training `images`),
    refusing an option the kind has no use for."""
    options: dict = {"ema_decay": ema_decay} if kind == "gan" and ema_decay else {}
    if perceptual is not None:
        if kind not in ("gan", "vae"):
            raise ValueError(f"a perceptual term trains a generator or a VAE's decoder; this run trains a {kind}")
        options.update(perceptual=perceptual, perceptual_weight=perceptual_weight)
        if kind == "gan":
            options["real_images"] = images
    if latent_prior is not None:
        if kind != "gan":
            raise ValueError(f"a training latent prior shapes a generator's noise; this run trains a {kind}")
        options["latent_prior"] = latent_prior
    return options
