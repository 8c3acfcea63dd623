"""One rule per quantity (aigc.service.limits): what is refused, with which line, and what passes unchanged."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aigc.service.errors import StudioError
from aigc.service.limits import DEFAULT, RULES, SEED_RULE, Limits


@pytest.mark.parametrize(
    "check,value,words",
    [
        ("images", 10**6, "number of images must be a whole number from 1 to 64"),
        ("images", 0, "number of images"),
        ("images", -1, "number of images"),
        ("images", 1.7, "got 1.7"),
        ("images", True, "got True"),
        ("images", float("nan"), "got nan"),
        ("seed", -1, "seed must be a whole number from 0 to 2147483647"),
        ("seed", 2**31, "seed"),
        ("seed", "12abc", "seed"),
        ("seed", float("inf"), "got inf"),
        ("seed", None, "seed is empty: give a whole number from 0 to 2147483647"),  # a box left empty
        ("seed", "  ", "seed is empty"),
        ("index", 2e7, "seed index must be a whole number from 0 to 63"),
        ("index", 10**9, "seed index"),
        ("steps", 1, "interpolation steps must be a whole number from 2 to 64"),
        ("steps", 10**6, "interpolation steps"),
        ("children", 10**6, "number of children must be a whole number from 1 to 64"),
        ("strength", float("nan"), "strength must be a finite number from 0 to 5"),
        ("strength", 1e9, "strength"),
        ("truncation", float("nan"), "truncation must be a finite number from 0 to 10"),
        ("truncation", -0.5, "truncation"),
        ("truncation", float("inf"), "truncation"),
        ("history", 10**30, "history limit must be a whole number from 1 to 1000"),
        ("history", 0, "history limit"),
        ("finetune_steps", 10**9, "fine-tune steps must be a whole number from 0 to 10000"),
        ("finetune_steps", -5, "fine-tune steps"),
        ("sample_id", 2**70, "sample id must be a whole number from 1 to 9223372036854775807"),
        ("sample_id", 1.7, "got 1.7"),
        ("sample_id", True, "got True"),
        ("sample_id", 0, "sample id"),
        ("sample_id", "abc", "sample id"),
        ("images", "８", "number of images must be a whole number from 1 to 64"),  # a fullwidth 8: int() read it
        ("seed", "١٢", "seed must be a whole number"),  # Arabic-Indic 12
        ("sample_id", [1], "sample id"),
        ("score", float("nan"), "score must be a finite number from -1 to 1"),
        ("score", 2, "score"),
    ],
)
def test_out_of_range_or_non_finite_is_one_line_naming_the_rule(check, value, words):
    with pytest.raises(StudioError) as err:
        getattr(DEFAULT, check)(value)
    text = str(err.value)
    assert words in text and "\n" not in text and len(text) < 160


@pytest.mark.parametrize(
    "check,value,expected",
    [
        ("images", 8, 8),
        ("images", 8.0, 8),  # JSON clients send whole numbers as floats
        ("images", "8", 8),
        ("images", np.int64(64), 64),
        ("seed", 0, 0),
        ("seed", 2**31 - 1, 2**31 - 1),
        ("index", 63, 63),
        ("steps", 2, 2),
        ("strength", "0.5", 0.5),
        ("truncation", 0, None),  # 0 = off
        ("truncation", None, None),
        ("truncation", 0.7, 0.7),
        ("finetune_steps", 0, None),  # 0 = the kind's default
        ("finetune_steps", None, None),
        ("finetune_steps", 300, 300),
        ("sample_id", 2**63 - 1, 2**63 - 1),
        ("score", -1, -1.0),
    ],
)
def test_values_in_range_pass_as_clean_python_numbers(check, value, expected):
    got = getattr(DEFAULT, check)(value)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    "value,words",
    [
        ([1.0] * 7, "got 7 numbers"),
        ([1.0] * 10**6, "got 1000000 numbers"),
        (np.float32(5.0).reshape(1), "got 1 number"),
        ([True] * 8, "list of 8"),  # numpy would read them as 1s and 0s
        ([0.0] * 7 + [np.bool_(False)], "list of 8"),
        (np.ones(8, dtype=bool), "list of 8"),
        ([0.0] * 7 + [float("nan")], "got nan"),
        ([0.0] * 7 + [math.inf], "got inf"),
        ([0.0] * 7 + [1e30], "got 1e+30"),
        ("[1, 2]", "list of 8"),
        (None, "list of 8"),
        ([[1, 2], [3]], "list of 8"),
    ],
)
def test_latents_have_the_models_length_and_finite_bounded_values(value, words):
    with pytest.raises(StudioError, match="a latent must be a list of 8 finite numbers within ±100") as err:
        DEFAULT.latent(value, 8)
    assert words in str(err.value)


def test_a_good_latent_comes_back_as_float32():
    z = DEFAULT.latent([0.5] * 8, 8)
    assert z.dtype == np.float32 and z.shape == (8,) and np.all(z == 0.5)


def test_uploads_over_the_size_limit_are_refused_before_decoding(tmp_path):
    small = Limits(max_upload_bytes=2**20)
    big = tmp_path / "big.png"
    big.write_bytes(b"\0" * (2**20 + 1))
    with pytest.raises(StudioError, match=r"an upload must be at most 1 MB, got 1\.0 MB"):
        small.upload(str(big))
    with pytest.raises(StudioError, match="at most 1 MB"):
        small.upload(b"\0" * (2**20 + 1))
    with pytest.raises(StudioError, match="gone"):
        small.upload(str(tmp_path / "missing.png"))
    assert small.upload(b"\0" * 10) == b"\0" * 10


def test_every_quantity_has_a_stated_rule_and_the_seed_rule_names_its_range():
    names = {n for n in dir(Limits) if not n.startswith("_") and callable(getattr(Limits, n))} - {"rules"}
    assert set(RULES) - names == {"upload_space"}  # enforced in front of Gradio's upload route (aigc_ui)
    assert names <= set(RULES)
    assert SEED_RULE == "a whole number from 0 to 2147483647"


def test_a_huge_bad_value_is_not_echoed_back_in_full():
    with pytest.raises(StudioError) as err:
        DEFAULT.seed("9" * 100_000 + "x")
    assert len(str(err.value)) < 120


def test_the_page_reads_the_same_rules_through_the_studio():
    from aigc.service import studio

    assert studio.SEED_RULE is SEED_RULE and studio.RULES is RULES  # the page imports only aigc.service.studio


@pytest.mark.parametrize("bad", [None, 3, {"name": "x"}, "", "   ", "m" * 201])
def test_a_model_name_is_short_text(bad):
    with pytest.raises(StudioError, match="model must be a model name") as err:
        DEFAULT.model_name(bad)
    assert len(str(err.value)) < 100  # a 10 MB "name" is never echoed back


def test_a_model_name_passes_unchanged():
    assert DEFAULT.model_name("fashion-gan-ft1") == "fashion-gan-ft1"


@pytest.mark.parametrize("bad", [[1, 2], {"a": 1}, 12345, "   ", "r" * 201])
def test_a_rater_filter_is_a_rater_id_or_nothing(bad):
    with pytest.raises(StudioError, match="only_rater must be a rater id"):
        DEFAULT.rater_filter(bad)
    assert DEFAULT.rater_filter("") is None and DEFAULT.rater_filter(None) is None
    assert DEFAULT.rater_filter(" anon-12ab ") == "anon-12ab"
