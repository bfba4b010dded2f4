"""Datasets regenerate byte for byte, carry their planted properties on any seed, and hide the ground truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aipmlab import datasets
from aipmlab.datasets import smart_reply
from tests.conftest import OTHER_SEEDS

SEEDS = (smart_reply.CANONICAL_SEED, *OTHER_SEEDS)


@pytest.mark.parametrize("table", sorted(datasets.TABLE_FAMILY))
def test_canonical_file_regenerates_byte_for_byte(table):
    assert datasets.csv_path(table).read_bytes() == datasets.canonical_files()[table], (
        f"{table}.csv differs from its generator: run `make datasets` and commit, or revert the generator")


@pytest.mark.parametrize("table", sorted(datasets.TABLE_FAMILY))
def test_every_table_has_a_datasheet(table):
    sheet = datasets.csv_path(table).with_suffix(".md").read_text(encoding="utf-8")
    for section in ("Motivation", "Composition", "Known limits"):
        assert section.lower() in sheet.lower(), f"{table}.md has no {section} section"


@pytest.mark.parametrize("table", sorted(datasets.TABLE_FAMILY))
def test_files_carry_no_ground_truth(table):
    columns = set(datasets.load(table).columns)
    assert not {c for c in columns if any(w in c for w in ("prob", "true", "truth", "planted", "latent"))}


def test_other_seeds_give_different_data_and_the_same_seed_the_same():
    a, b = datasets.load("smart_reply_messages", 7), datasets.load("smart_reply_messages", 8)
    assert not a.equals(b)
    assert a.equals(datasets.load("smart_reply_messages", 7))


def test_loading_gives_a_fresh_copy_each_time():
    first = datasets.load("smart_reply_messages")
    first["rating"] = 0
    assert (datasets.load("smart_reply_messages")["rating"] > 0).all()


def test_bad_names_and_seeds_get_clear_messages():
    with pytest.raises(KeyError, match="smart_reply_messages"):
        datasets.load("smart_replies")
    with pytest.raises(ValueError, match="whole number"):
        datasets.load("smart_reply_messages", seed="2024")


def _good(frame: pd.DataFrame, column: str = "rating") -> pd.Series:
    return frame[column] >= 4


@pytest.mark.parametrize("seed", SEEDS)
def test_planted_code_switch_boundary(seed):
    tables, truth = smart_reply.generate(seed)
    messages = tables["smart_reply_messages"]
    p = pd.Series(truth.message_good_probability, index=messages.index)
    for language in truth.world.failing_code_switch:  # which languages fail when code-switched varies with the seed
        own = messages["language"] == language
        assert p[own & messages["code_switched"]].mean() < p[own & ~messages["code_switched"]].mean() - 0.2
    # at least one slice is small enough that its interval is wide (the "12 messages" trap)
    assert messages["slice"].value_counts().min() < 40


@pytest.mark.parametrize("seed", SEEDS)
def test_planted_simpson_reversal_between_emoji_and_length(seed):
    messages = smart_reply.generate(seed)[0]["smart_reply_messages"].assign(good=lambda m: _good(m))
    raw = messages.groupby("emoji_level")["good"].mean()
    within = messages.groupby(["length_band", "emoji_level"])["good"].mean().unstack()
    assert raw["heavy"] > raw["none"], "raw comparison should flatter emoji-heavy messages"
    assert (within["heavy"] < within["none"]).all(), "within every length band emoji-heavy should be worse"


@pytest.mark.parametrize("seed", SEEDS)
def test_planted_perturbation_effects(seed):
    tables, truth = smart_reply.generate(seed)
    pairs = tables["smart_reply_invariance"]
    drop = pd.Series(truth.pair_good_probability_before - truth.pair_good_probability_after).groupby(
        pairs["perturbation"]).mean()
    assert drop["punctuation_added"] == pytest.approx(0.0)
    assert 0 < drop["emoji_added"] < drop["code_switch_added"]
    assert np.all(pairs.groupby("perturbation").size() == smart_reply.PAIRS_PER_PERTURBATION)


def test_checksum_manifest_is_in_step_with_the_generators():
    manifest = datasets.read_manifest()
    for table, data in datasets.canonical_files().items():
        entry = manifest.get(table, {})
        assert entry.get("sha256") == datasets.sha256(data) and entry.get("seed") == datasets.family_of(table).canonical_seed, (
            f"datasets/MANIFEST.json is stale for {table}: run `make datasets`")
