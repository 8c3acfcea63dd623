"""Every network builds and has the right shapes for every supported size and channel count."""

from __future__ import annotations

import pytest
import torch

from aigc.models import GAN, VAE, GANConfig, VAEConfig

SIZES = [28, 32, 64]
CHANNELS = [1, 3]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("channels", CHANNELS)
def test_gan_shapes(tiny_model, size, channels):
    gan = tiny_model("gan", size, channels).eval()
    z = torch.randn(3, gan.latent_dim)
    with torch.no_grad():
        x = gan.decode(z)
        logits = gan.discriminator(x)
    assert x.shape == (3, channels, size, size)
    assert x.min() >= -1 and x.max() <= 1  # tanh output
    assert logits.shape == (3,)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("channels", CHANNELS)
def test_vae_shapes(tiny_model, size, channels):
    vae = tiny_model("vae", size, channels).eval()
    x = torch.rand(3, channels, size, size) * 2 - 1
    with torch.no_grad():
        mu, logvar = vae.encode(x)
        y = vae.decode(mu)
        loss, parts = vae.loss(x, generator=torch.Generator().manual_seed(0))
    assert mu.shape == logvar.shape == (3, vae.latent_dim)
    assert y.shape == (3, channels, size, size)
    assert y.min() >= -1 and y.max() <= 1
    assert loss.ndim == 0 and torch.isfinite(loss) and parts["recon"] > 0 and parts["kl"] >= 0


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("channels", CHANNELS)
def test_classifier_shapes(tiny_model, size, channels):
    clf = tiny_model("classifier", size, channels).eval()
    x = torch.rand(3, channels, size, size) * 2 - 1
    with torch.no_grad():
        assert clf(x).shape == (3, clf.cfg.num_classes)
        assert clf.embed(x).shape == (3, clf.cfg.embed_dim)


@pytest.mark.parametrize("make", [lambda: GAN(GANConfig(image_size=48)), lambda: VAE(VAEConfig(image_size=16))])
def test_unsupported_size_is_refused(make):
    with pytest.raises(ValueError, match="image_size must be one of"):
        make()


def test_vae_loss_weights_are_a_normalised_weighted_mean(tiny_model):
    vae = tiny_model("vae").eval()
    x = torch.rand(4, 1, 28, 28) * 2 - 1

    def loss(weights):
        with torch.no_grad():
            return vae.loss(
                x, None if weights is None else torch.tensor(weights), generator=torch.Generator().manual_seed(1)
            )[0].item()

    plain = loss(None)
    assert loss([3.0, 3.0, 3.0, 3.0]) == pytest.approx(plain, rel=1e-5)  # scale-free
    singles = [loss([1.0 if j == i else 0.0 for j in range(4)]) for i in range(4)]
    assert plain == pytest.approx(sum(singles) / 4, rel=1e-5)
    assert loss([1.0, 1.0, 0.0, 0.0]) == pytest.approx((singles[0] + singles[1]) / 2, rel=1e-5)
    assert len(set(round(s, 3) for s in singles)) > 1  # the weights pick different examples


def test_spectral_hinge_gan_has_no_batchnorm_in_d_and_its_layers_are_normalised():
    torch.manual_seed(0)
    gan = GAN(GANConfig(g_width=8, d_width=8, latent_dim=8, d_norm="spectral", loss="hinge"))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in gan.discriminator.modules())
    gan.discriminator.train()
    x = torch.randn(16, 1, 28, 28)
    for _ in range(30):  # power iteration converges; each layer's top singular value is then ≈ 1
        gan.discriminator(x)
    conv = gan.discriminator.features[0]
    sigma = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2)
    assert abs(float(sigma) - 1.0) < 0.05
    unnormalised = torch.linalg.matrix_norm(conv.parametrizations.weight.original.detach().flatten(1), ord=2)
    assert abs(float(unnormalised) - 1.0) > 0.05  # the raw weight is not already unit-norm: SN is doing the work


def test_hinge_objective_trains_the_discriminator_to_separate(toy_data):
    from aigc.training.objectives import GANObjective, StepInput

    torch.manual_seed(0)
    gan = GAN(GANConfig(g_width=8, d_width=8, latent_dim=8, d_norm="spectral", loss="hinge"))
    objective = GANObjective(gan, 2e-3, (0.0, 0.9), torch.device("cpu"))
    first = objective.step(StepInput(toy_data.images[:64], None, None, torch.Generator().manual_seed(0)))
    for step in range(1, 40):
        last = objective.step(StepInput(toy_data.images[:64], None, None, torch.Generator().manual_seed(step)))
    assert first["loss_d"] > 1.5  # hinge D loss starts near 2 (both margins violated)
    assert last["loss_d"] < first["loss_d"] - 0.3


@pytest.mark.parametrize("bad", [{"d_norm": "layer"}, {"loss": "wasserstein"}])
def test_unknown_gan_options_are_refused(bad):
    with pytest.raises(ValueError, match="must be"):
        GANConfig(**bad)


@pytest.mark.parametrize("size", [28, 32])
def test_extra_generator_convolutions_keep_the_shape_and_add_layers(size):
    plain = GAN(GANConfig(image_size=size, g_width=8, d_width=8, latent_dim=8))
    deeper = GAN(GANConfig(image_size=size, g_width=8, d_width=8, latent_dim=8, g_extra_convs=2))
    z = torch.randn(3, 8)
    assert deeper.decode(z).shape == plain.decode(z).shape == (3, 1, size, size)
    convs = [m for m in deeper.generator.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 2 * (1 if size == 28 else 2)  # two per intermediate resolution


@pytest.mark.parametrize("size", [28, 32])
def test_extra_decoder_convolutions_draw_at_full_resolution_and_keep_the_plain_layout_loadable(size):
    plain = VAE(VAEConfig(image_size=size, width=8, hidden=16, latent_dim=4))
    deeper = VAE(VAEConfig(image_size=size, width=8, hidden=16, latent_dim=4, d_extra_convs=1))
    z = torch.randn(3, 4)
    assert deeper.decode(z).shape == plain.decode(z).shape == (3, 1, size, size)
    steps = 2 if size == 28 else 3
    convs = [m for m in deeper.decoder.body if type(m) is torch.nn.Conv2d]
    assert len(convs) == steps + 1  # one after each upsampling, the last included, and one to pixels
    assert convs[-1].out_channels == 1 and convs[-1].kernel_size == (3, 3)
    # without extra convolutions the decoder is the layout checkpoints were trained with, names and all
    body = [name for name in plain.decoder.state_dict() if name.startswith("body.") and name.endswith(".weight")]
    upsamplings = [f"body.{3 * j + k}.weight" for j in range(steps - 1) for k in (0, 1)]  # ConvT, BatchNorm
    assert body == [*upsamplings, f"body.{3 * (steps - 1)}.weight"]  # then the transposed convolution to pixels
    assert isinstance(plain.decoder.body[-1], torch.nn.ConvTranspose2d)
