"""Run by test_reproducible.py in a fresh process: hashes of the shipped models' decodes at one thread count."""

from __future__ import annotations

import hashlib
import json
import sys

import torch

from aigc.models.pipeline import load_model


def main(threads: int) -> None:
    torch.set_num_threads(threads)
    out = {"threads": torch.get_num_threads()}
    for name in ("fashion-gan", "fashion-vae"):
        model = load_model(name, device="cpu")
        for n in (1, 16, 64):
            z = model.latents(n, 7)
            floats = model.decode_float(torch.as_tensor(z))  # stricter than pixels: every float bit
            out[f"{name}/{n}/float"] = hashlib.sha256(floats.numpy().tobytes()).hexdigest()
            out[f"{name}/{n}/pixels"] = hashlib.sha256(model.sample(n, 7).tobytes()).hexdigest()
        upload = model.sample(4, 3)
        if model.kind == "vae":  # an upload's latent is the same everywhere too
            out[f"{name}/encode"] = hashlib.sha256(model.encode(upload).tobytes()).hexdigest()
    print(json.dumps(out))


if __name__ == "__main__":
    main(int(sys.argv[1]))
