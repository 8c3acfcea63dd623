"""Same (model, seed, n) → byte-identical images in every process and at every thread count.

Before decoding ran on one intra-op thread, the VAE's first transposed convolution (oneDNN) gave other
float bits at 2 threads than at 1 or 4 for a single latent (the explorer's slider path), and MKL picked
its own thread count from the machine's load; a float on a rounding edge changed a pixel by one grey level.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.integration  # four processes
def test_decodes_are_bit_identical_across_processes_and_thread_counts():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("OMP_NUM_THREADS", None)  # the workers choose their own counts
    counts = [1, 2, 4, 2]  # and two separate processes at the same count
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.engine.pixels_worker", str(t)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for t in counts
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert [r.pop("threads") for r in results] == counts
    first = results[0]
    assert len(first) == 2 * 3 * 2 + 1
    for t, other in zip(counts[1:], results[1:]):
        differing = sorted(k for k in first if other[k] != first[k])
        assert not differing, f"{t} threads differ from 1 thread in {differing}"


def test_decoding_leaves_the_callers_thread_count_alone():
    import torch

    from aigc.models.pipeline import load_model

    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        load_model("fashion-gan", device="cpu").sample(2, 0)
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("name", ["fashion-gan", "fashion-vae"])
def test_decoding_many_in_chunks_gives_the_bits_of_decoding_each_chunk_alone(name):
    """Many latents are decoded DECODE_CHUNK at a time (faster: the activations stay in cache); a picture must
    not depend on which other latents shared its forward pass, or (seed, n) and (seed, n + 1) would disagree
    on the pictures they share."""
    import numpy as np

    from aigc.models import pipeline
    from aigc.models.batched import DECODE_CHUNK

    model = pipeline.load_model(name, device="cpu")
    n = 2 * DECODE_CHUNK + 37  # two full chunks and a ragged one
    z = model.latents(n, 11)
    together = model.decode(z)
    one_at_a_time = np.concatenate([model.decode(z[i : i + 1]) for i in range(0, n, 29)])
    assert np.array_equal(together[::29], one_at_a_time)
    assert np.array_equal(model.decode(z[5:200]), together[5:200])  # a window across the chunk boundary


def test_pictures_only_a_run_scores_may_use_every_thread_and_stay_within_a_grey_level():
    """A fine-tune's tilt and report decode thousands of pictures on the caller's threads (portable=False);
    they must be the same pictures up to float rounding, and the caller's thread count is left alone."""
    import numpy as np
    import torch

    from aigc.models.pipeline import load_model

    model = load_model("fashion-gan", device="cpu")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        fast = model.generate(300, 5, portable=False)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    portable = model.generate(300, 5)
    assert np.array_equal(fast.latents, portable.latents)
    assert np.abs(fast.images.astype(int) - portable.images.astype(int)).max() <= 1
