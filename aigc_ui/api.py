"""The HTTP API: every action on the page as a named endpoint with a plain signature, for `gradio_client`.

Endpoints that return images use hidden components (so clients get real image files); the rest are
`gr.api` functions typed with Python hints. The rater is the logged-in user with --auth, else the
client's session. Errors reach clients as one-line messages (gradio_client raises AppError).

The endpoints, their inputs, what they return and what a point `a`/`b` may be are documented once, in the
README's *The API* table (tests/app/test_structure.py checks that it lists exactly the endpoints registered here).
"""

from __future__ import annotations

import gradio as gr

from aigc.data.images import gif_bytes
from aigc.service.studio import MAX_BATCH, POOL_PER_PICK, StudioError, pool_size

from .ab import PendingPairs, record_api_pick
from .common import (
    GIF_SCALE,
    PageContext,
    as_list,
    encode_upload,
    guarded,
    parse_latent,
    point,
    rater_of,
    save_file,
    upscale,
)
from .interpolate_tab import interpolation

RATING_LANES = 8  # ratings are one short write each; SQLite takes them one at a time anyway


def _rating(info, rater: str) -> dict:
    return {"sample_id": info.sample_id, "score": info.score, "rater": rater}


def build(ctx: PageContext) -> None:
    studio = ctx.studio

    # ------------------------------------------------------------ endpoints that return images
    with gr.Column(visible=False):  # inputs and outputs of the API alone; not part of the page
        slots = {
            "model": gr.Textbox(label="model"),
            "n": gr.Number(8, label="n"),  # no precision: Gradio would round 1.7; the studio's limits refuse it
            "seed": gr.Number(0, label="seed"),
            "truncation": gr.Number(0, label="truncation"),
            "latent": gr.JSON(label="latent"),
            "a": gr.JSON(label="a"),
            "b": gr.JSON(label="b"),
            "steps": gr.Number(8, label="steps"),
            "strength": gr.Number(0.5, label="strength"),
            "image": gr.File(label="image", type="filepath"),
            "images": gr.Gallery(label="images", format="png"),
            "picture": gr.Image(label="image", format="png"),
            "picture_b": gr.Image(label="image B", format="png"),
            "gif": gr.File(label="gif"),
            "info": gr.JSON(label="info"),
        }

    def endpoint(fn, inputs: str, outputs: str, description: str) -> None:
        gr.on(
            [],
            guarded(fn),
            [slots[k] for k in inputs.split()],
            [slots[k] for k in outputs.split()],
            api_name=fn.__name__,
            api_description=description,
        )

    def sample(model, n, seed, truncation, request: gr.Request):
        batch = studio.sample(model, n, seed, rater=rater_of(request), truncation=truncation)
        return [upscale(img) for img in batch.images], {
            "model": model,
            "seed": batch.seed,
            "n": len(batch.sample_ids),
            "truncation": batch.truncation,  # what the draw used: 0 for a VAE, which has none
            "sample_ids": batch.sample_ids,
            "latents": [as_list(z) for z in batch.latents],
        }

    endpoint(
        sample,
        "model n seed truncation",
        "images info",
        "n seeded images (each recorded as a sample) with their sample ids and latents",
    )

    def to_rate(model, n, seed, request: gr.Request):
        batch = studio.sample_to_rate(model, n, seed, rater=rater_of(request))
        return [upscale(img) for img in batch.images], {
            "model": model,
            "n": len(batch.sample_ids),
            "sample_ids": batch.sample_ids,
            "latents": [as_list(z) for z in batch.latents],
        }

    endpoint(
        to_rate,
        "model n seed",
        "images info",
        f"n images worth rating next (recorded): from {POOL_PER_PICK}·n samples of the seed (at most "
        f"{pool_size(MAX_BATCH)}), those your reward model is least sure "
        "of and kinds nobody has rated yet",
    )

    pending = PendingPairs()

    def ab_pair(model, seed, request: gr.Request):
        studio.check_visible(model, rater_of(request))
        shown = studio.ab_pair(model, seed=seed, rater=rater_of(request))
        token = pending.add(rater_of(request), {k: shown[k] for k in ("left_id", "right_id", "child_id")})
        return upscale(shown["left_image"]), upscale(shown["right_image"]), {"pair": token, "child": model}

    endpoint(
        ab_pair,
        "model seed",
        "picture picture_b info",
        "a blind pair: a fine-tuned version and its parent, each its own draw of the seed, sides at random (A, B); "
        "judge it with /ab_pick",
    )

    def decode(model, latent, request: gr.Request):
        studio.check_visible(model, rater_of(request))
        return upscale(studio.decode(model, parse_latent(latent)))

    endpoint(decode, "model latent", "picture", "one latent (a list of numbers) → one image; not recorded")

    def encode(model, image, request: gr.Request):
        studio.check_visible(model, rater_of(request))
        if not image:
            raise StudioError("send an image file")
        encoded = encode_upload(studio, model, image)
        return {"model": model, "latent": as_list(encoded.latent), "negated": encoded.negated}

    endpoint(
        encode,
        "model image",
        "info",
        "an image file → the VAE's latent mean (negated: its light background was made dark, as the model's)",
    )

    def interpolate(model, a, b, steps, request: gr.Request):
        frames, latents, ids = interpolation(
            studio,
            model,
            point(studio, model, a, rater_of(request)),
            point(studio, model, b, rater_of(request)),
            steps,
            rater_of(request),
        )
        path = save_file(ctx, gif_bytes(frames, upscale=GIF_SCALE, duration_ms=90), f"{model}-interpolation.gif")
        return (
            [upscale(img) for img in frames],
            path,
            {"model": model, "sample_ids": ids, "latents": [as_list(z) for z in latents]},
        )

    endpoint(
        interpolate,
        "model a b steps",
        "images gif info",
        "slerp path a → b: frames (recorded as samples), an animated GIF, their ids and latents",
    )

    def children(model, latent, n, strength, seed, request: gr.Request):
        latents = studio.children(model, parse_latent(latent), n=n, strength=strength, seed=seed)
        frames, ids = studio.show(model, latents, "explore", rater=rater_of(request))
        return [upscale(img) for img in frames], {
            "model": model,
            "sample_ids": ids,
            "latents": [as_list(x) for x in latents],
        }

    endpoint(
        children,
        "model latent n strength seed",
        "images info",
        "n children of a latent (latent + strength·noise), recorded as samples",
    )

    def cross(model, a, b, seed, request: gr.Request):
        who = rater_of(request)
        studio.check_visible(model, who)
        child = studio.cross(model, point(studio, model, a, who), point(studio, model, b, who), seed=seed)
        return upscale(studio.decode(model, child)), {"model": model, "latent": as_list(child)}

    endpoint(cross, "model a b seed", "picture info", "a child of two points (uniform crossover of their latents)")

    # ------------------------------------------------------------ JSON endpoints
    @guarded
    def rate(sample_id: int, score: float, request: gr.Request) -> dict:
        """Rate a sample: 1 = like, -1 = dislike (any score in [-1, 1]); rating again updates it."""
        rater = rater_of(request)
        return _rating(studio.rate(sample_id, score, rater), rater)

    # Ratings have their own lane in Gradio's queue: a click must not wait behind slow or hostile calls of others
    gr.api(rate, api_name="rate", concurrency_id="ratings", concurrency_limit=RATING_LANES)

    @guarded
    def rate_latent(model: str, latent: list[float], score: float, request: gr.Request) -> dict:
        """Rate an explored latent: it is recorded as a sample, then rated."""
        rater = rater_of(request)
        sample_id = studio.rate_latent(model, parse_latent(latent), score, rater)
        return {"sample_id": sample_id, "score": studio.limits.score(score), "rater": rater}

    gr.api(rate_latent, api_name="rate_latent", concurrency_id="ratings", concurrency_limit=RATING_LANES)

    @guarded
    def models(request: gr.Request | None = None) -> list[dict]:
        """Every version you may see: name, kind, parent, latent size, image shape, model card, owner, published."""
        return [
            {
                "name": m.name,
                "kind": m.kind,
                "version_id": m.version_id,
                "parent": m.parent,
                "latent_dim": m.latent_dim,
                "image_shape": list(m.image_shape),
                "card": m.card,
                "owner": m.owner,
                "published": m.published,
            }
            for m in studio.models(rater_of(request))
        ]

    gr.api(models, api_name="models")

    @guarded
    def stats(request: gr.Request | None = None) -> list[dict]:
        """Per version you may see: samples, ratings, likes, dislikes, like rate."""
        visible = {m.name for m in studio.models(rater_of(request))}
        return [
            {
                "version": s.name,
                "version_id": s.version_id,
                "samples": s.n_samples,
                "ratings": s.n_ratings,
                "likes": s.n_likes,
                "dislikes": s.n_dislikes,
                "like_rate": s.like_rate,
                "mean_score": s.mean_score,
            }
            for s in studio.stats()
            if s.name in visible
        ]

    gr.api(stats, api_name="stats")

    @guarded
    def history(limit: int = 20, request: gr.Request | None = None) -> list[dict]:
        """This client's recent samples and ratings, newest first."""
        names = {m.version_id: m.name for m in studio.models()}
        return [
            {
                "sample_id": h.sample_id,
                "model": names.get(h.version_id) or studio.retired_label(h.version_id),
                "seed": h.seed,
                "index": h.index,
                "source": h.source,
                "score": h.score,
                "created_at": h.created_at.isoformat(),
            }
            for h in studio.history(rater_of(request), limit)
        ]

    gr.api(history, api_name="history")

    @guarded
    def sample_info(sample_id: int, request: gr.Request | None = None) -> dict:
        """The model and latent of one of your stored samples (decode it to see it again)."""
        name, z = studio.sample_info(sample_id, rater_of(request))
        return {"sample_id": studio.limits.sample_id(sample_id), "model": name, "latent": as_list(z)}

    gr.api(sample_info, api_name="sample_info")

    @guarded
    def axes(model: str, request: gr.Request | None = None) -> dict:
        """The explorer's slider axes: orthonormal basis rows, their names and importance."""
        studio.check_visible(model, rater_of(request))
        found = studio.axes(model)
        return {
            "model": model,
            "names": list(found.names),
            "importance": as_list(found.importance),
            "basis": [as_list(row) for row in found.basis],
            "slider_range": found.slider_range,
        }

    gr.api(axes, api_name="axes")

    @guarded
    def taste(model: str, only_mine: bool = True, request: gr.Request | None = None) -> dict:
        """The explorer's ✨ My taste: a unit direction in the latent space towards what was liked (yours, or
        everyone's); add t · direction to a latent and /decode it. None until liked and disliked both exist."""
        studio.check_visible(model, rater_of(request))
        if not isinstance(only_mine, bool):  # "abc", 0 and NaN all read as true
            raise StudioError("only_mine must be true or false")
        found = studio.taste(model, rater_of(request) if only_mine else None)
        return {"model": model, "direction": None if found is None else as_list(found)}

    gr.api(taste, api_name="taste")

    # ------------------------------------------------------------ closing the loop
    @guarded
    def finetune(model: str, steps: int = 0, only_rater: str = "", request: gr.Request | None = None) -> dict:
        """Start a fine-tuning run of `model` from its ratings in the background.

        steps 0 = the kind's default; poll `finetune_status`.
        """
        rater = studio.limits.rater_filter(only_rater)
        status = studio.start_finetune(model, steps=steps, rater=rater, requester=rater_of(request))
        return {"model": model, "state": status.state}

    gr.api(finetune, api_name="finetune")

    @guarded
    def ratings_advice(model: str, only_rater: str = "", request: gr.Request | None = None) -> dict:
        """Before training: {level (high/medium/low/unknown), text, warnings, flip, heldout_*} for `model`'s ratings:
        how well a reward model fitted on them predicts ratings it did not see, in plain words."""
        studio.check_visible(model, rater_of(request))
        # with logins a visitor's run reads only their ratings, and so does its advice (never another's by name)
        return studio.ratings_advice(
            model, studio.roles.finetune_rater(studio.limits.rater_filter(only_rater), rater_of(request))
        ).as_dict()

    gr.api(ratings_advice, api_name="ratings_advice")

    @guarded
    def finetune_status(model: str, request: gr.Request | None = None) -> dict:
        """State (idle/queued/running/succeeded/failed/cancelled), stage, progress in [0, 1], message ("2nd in line,
        starts in about 3 min"), position in line, wait estimate in s, child (named as soon as it is registered,
        while the run may still be finishing) and its measured effect; the bar's one-line label, the stages seen
        so far, training step k of N, seconds elapsed and the estimate of seconds left (None: too early)."""
        studio.check_visible(model, rater_of(request))
        studio.kind(model)  # an unknown name is refused as everywhere (it read "idle")
        s = studio.finetune_status(model, rater_of(request))
        return {
            "model": model,
            "state": s.state,
            "stage": s.stage,
            "progress": s.progress,
            "message": s.message,
            "child": s.child,
            "metrics": s.metrics,
            "position": getattr(s, "position", 0),
            "wait_s": getattr(s, "wait_s", None),
            "label": s.label(),
            "stages": list(s.stages),
            "step": s.step,
            "steps": s.steps,
            "elapsed_s": round(s.elapsed_s(), 1),
            "eta_s": None if (left := s.remaining_s()) is None else round(left, 1),
        }

    gr.api(finetune_status, api_name="finetune_status")

    @guarded
    def finetune_cancel(model: str, request: gr.Request | None = None) -> dict:
        """Cancel your waiting or running fine-tuning run of `model` (admins: anyone's)."""
        s = studio.cancel_finetune(model, rater_of(request))
        return {"model": model, "state": s.state, "message": s.message}

    gr.api(finetune_cancel, api_name="finetune_cancel")

    @guarded
    def ab_stats(child: str, request: gr.Request | None = None) -> dict:
        """Blind A/B picks for a fine-tuned version: wins, losses, ties, win rate, binomial p-value."""
        studio.check_visible(child, rater_of(request))
        return studio.ab_stats(child)

    gr.api(ab_stats, api_name="ab_stats")

    @guarded
    def ab_pick(pair: str, choice: str, request: gr.Request | None = None) -> dict:
        """Your pick of a blind pair from /ab_pair: "A", "B" or "same" (recorded once; /ab_stats has the tally)."""
        return record_api_pick(studio, pending, pair, choice, rater_of(request))

    gr.api(ab_pick, api_name="ab_pick")

    @guarded
    def publish(model: str, published: bool = True, request: gr.Request | None = None) -> dict:
        """Admins: show a fine-tuned version to every visitor (published=False: back to its owner and admins)."""
        version = studio.publish(model, rater_of(request), bool(published))
        return {"model": version.name, "owner": version.owner, "published": version.published}

    gr.api(publish, api_name="publish")
