"""Module 02: the planted problems are present on every seed, and the course's numbers agree with
well-kept libraries (cleanlab for confident learning, scipy for grouping, statsmodels for intervals)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from aipmlab import answer_key
from aipmlab.datasets import support_tickets
from aipmlab.exercises.core import DataSource
from aipmlab.exercises.m02_data_quality_audit import (
    INTENTS, UNDER_REPRESENTED_BELOW, near_duplicate_groups, normalise_text, one_word_variants,
    out_of_fold_probabilities,
)
from tests.conftest import OTHER_SEEDS

SEEDS = (support_tickets.CANONICAL_SEED, *OTHER_SEEDS)
KEY = answer_key.load("m02_data_quality_audit")


@pytest.fixture(scope="module", params=SEEDS, ids=lambda seed: f"seed-{seed}")
def generated(request):
    tables, truth = support_tickets.generate(request.param)
    tickets = tables["support_tickets"].assign(group=lambda t: near_duplicate_groups(t["text"]))
    return request.param, tables, tickets, truth


# --- The plumbing behaves as documented --------------------------------------------------------

def test_normalise_text_ignores_case_spacing_and_punctuation():
    assert normalise_text("  Hi,  THERE!  Where's order #12?") == "hi there wheres order 12"
    assert normalise_text("a\tb\nc") == "a b c"


def test_one_word_variants_cover_swaps_additions_and_removals():
    base = one_word_variants("please refund my order now")
    assert base & one_word_variants("please refund our order now")      # one word swapped
    assert base & one_word_variants("please refund my order right now")  # one word added
    assert base & one_word_variants("refund my order now")               # one word removed
    assert not base & one_word_variants("please send my parcel now")      # two words changed


def test_near_duplicate_groups_agree_with_a_brute_force_graph():
    """Pairwise rule on a subsample, grouped with scipy's connected components: the same partition."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    tickets = support_tickets.generate(support_tickets.CANONICAL_SEED)[0]["support_tickets"]
    ours = near_duplicate_groups(tickets["text"])
    sample = ours[ours.duplicated(keep=False)].index[:150].union(tickets.index[:250])
    texts = tickets.loc[sample, "text"].tolist()
    variants = [one_word_variants(text) for text in texts]
    pairs = [(i, j) for i, j in itertools.combinations(range(len(texts)), 2) if variants[i] & variants[j]]
    assert pairs, "the subsample should contain near duplicates"
    rows, columns = zip(*pairs)
    graph = coo_matrix((np.ones(len(pairs)), (rows, columns)), shape=(len(texts), len(texts)))
    _, component = connected_components(graph, directed=False)
    # within the subsample, two texts share a scipy component exactly when they share our group
    sub_groups = near_duplicate_groups(pd.Series(texts))
    assert pd.crosstab(component, sub_groups.to_numpy()).gt(0).sum(axis=1).eq(1).all()
    assert pd.crosstab(sub_groups.to_numpy(), component).gt(0).sum(axis=1).eq(1).all()


def test_out_of_fold_probabilities_are_deterministic_and_well_formed():
    train = DataSource().load("support_tickets").query("split == 'train'")
    first, second = out_of_fold_probabilities(train), out_of_fold_probabilities(train)
    pd.testing.assert_frame_equal(first, second)
    assert list(first.columns) == list(INTENTS) and first.index.equals(pd.Index(train["ticket_id"]))
    np.testing.assert_allclose(first.sum(axis=1), 1.0)


# --- Planted properties, on every seed ---------------------------------------------------------

def test_planted_duplicates_are_found_by_the_rule(generated):
    _, _, tickets, truth = generated
    kinds = pd.Series(truth.copy_kind).value_counts()
    assert kinds["exact"] == round(support_tickets.TICKET_COUNT * support_tickets.EXACT_COPY_SHARE)
    assert kinds.drop(["original", "exact"]).sum() == round(support_tickets.TICKET_COUNT
                                                            * support_tickets.NEAR_COPY_SHARE)
    root = np.where(truth.copy_of >= 0, truth.copy_of, np.arange(len(tickets)))
    group = tickets["group"].to_numpy()
    assert (group == group[root]).all(), "every planted copy must share its source's group"
    planted_groups = len(set(root))
    assert planted_groups - tickets["group"].nunique() <= 0.002 * len(tickets), "the rule merges distinct tickets"
    # every kind of edit is present and each lands in the same group as its source
    assert set(support_tickets.NEAR_EDITS) <= set(kinds.index)


def test_planted_leakage_is_found_and_inflates_accuracy(generated):
    seed, _, tickets, truth = generated
    test = KEY._test_predictions(seed)
    planted = pd.Series(truth.leaked, index=tickets.index)[test.index]
    assert (test["leaked"] | ~planted).all(), "every planted leak must be found"
    assert (test["leaked"] & ~planted).sum() <= 3
    assert 0.08 < planted.mean() < 0.25
    correct = test["predicted"] == test["label"]
    assert correct[test["leaked"]].mean() > correct[~test["leaked"]].mean() + 0.05
    effect = KEY.leakage_effect(DataSource(seed))
    assert effect["accuracy_reported"] > effect["accuracy_unleaked"] + 0.005


def test_planted_label_noise_concentrates_in_the_confusable_pair(generated):
    _, tables, _, truth = generated
    given = tables["support_tickets"]["label"].to_numpy()
    flipped = truth.label_flipped
    pair = support_tickets.CONFUSABLE_PAIR
    in_pair = np.isin(truth.true_label, pair) & np.isin(given, pair)
    assert (flipped & in_pair).sum() >= 0.8 * flipped.sum()
    pair_rows = np.isin(truth.true_label, pair)
    assert 0.13 < flipped[pair_rows].mean() < 0.24
    assert flipped[~pair_rows].mean() < 0.03


def test_confident_learning_finds_mostly_real_errors_and_most_of_them(generated):
    seed, tables, _, truth = generated
    issues = KEY.label_issues(DataSource(seed))
    tickets = tables["support_tickets"].set_index("ticket_id")
    flipped = pd.Series(truth.label_flipped, index=tickets.index)
    train_flipped = flipped[tickets["split"] == "train"]
    precision = flipped[issues.index].mean()
    recall = flipped[issues.index].sum() / train_flipped.sum()
    assert 0.45 < precision < 0.9, "flagged tickets should be a mix of real errors and misleading wording"
    assert recall > 0.6


def test_audit_is_a_random_training_sample_labelled_by_a_near_perfect_expert(generated):
    _, tables, _, truth = generated
    audit, tickets = tables["support_tickets_audit"], tables["support_tickets"].set_index("ticket_id")
    assert len(audit) == support_tickets.AUDIT_SIZE and audit["ticket_id"].is_unique
    assert (tickets.loc[audit["ticket_id"], "split"] == "train").all()
    assert (audit["audit_label"].to_numpy() == truth.audit_true_label).mean() >= 0.98
    # a random sample: its error rate is close to the training split's
    given = tickets.loc[audit["ticket_id"], "label"].to_numpy()
    train_error = pd.Series(truth.label_flipped, index=tickets.index)[tickets["split"] == "train"].mean()
    assert abs((given != truth.audit_true_label).mean() - train_error) < 0.04


def test_training_mix_under_represents_app_and_social(generated):
    seed, _, _, _ = generated
    mix = KEY.slice_mix(DataSource(seed))
    assert set(mix.index[mix["under_represented"]]) == {"app", "social"}
    assert (mix["ratio"].sub(UNDER_REPRESENTED_BELOW).abs() > 0.1).all(), "no channel sits on the cut-off"
    np.testing.assert_allclose(mix["production_share"].sum(), 1.0)


def test_flagged_precision_has_enough_audited_tickets(generated):
    seed, _, _, _ = generated
    estimates = KEY.audit_estimates(DataSource(seed))
    assert estimates["flagged_audited"] >= 20
    assert 0.04 < estimates["error_rate"] < 0.14


# --- The course's numbers agree with well-kept libraries ----------------------------------------

def _cleanlab_inputs(seed):
    train = DataSource(seed).load("support_tickets").query("split == 'train'")
    probs = out_of_fold_probabilities(train)
    labels = np.searchsorted(np.array(INTENTS), train["label"].to_numpy())
    assert list(probs.columns) == sorted(INTENTS)
    return labels, probs.to_numpy()


@pytest.mark.parametrize("seed", SEEDS)
def test_thresholds_and_confident_joint_match_cleanlab(seed):
    """cleanlab.count.compute_confident_joint(calibrate=False) gives the same counts.

    Documented differences that cannot bite here: cleanlab compares p >= t - 1e-6 (not p >= t),
    raises an empty diagonal cell to 1, and, when several intents pass their thresholds, picks
    the overall top intent rather than the top one among those that pass. The assertions below
    check that none of these cases occurs, then that the counts are identical.
    """
    from cleanlab.count import compute_confident_joint, get_confident_thresholds

    labels, probs = _cleanlab_inputs(seed)
    thresholds = get_confident_thresholds(labels, probs)
    ours = np.array([probs[labels == k, k].mean() for k in range(len(INTENTS))])
    np.testing.assert_allclose(thresholds, ours)
    assert not ((probs >= ours - 1e-6) & (probs < ours)).any()
    above = probs >= ours
    several = above.sum(axis=1) > 1
    assert above[np.flatnonzero(several), probs[several].argmax(axis=1)].all()

    joint = KEY.confident_joint(DataSource(seed)).loc[list(INTENTS), list(INTENTS)].to_numpy()
    assert (np.diag(joint) >= 1).all()
    np.testing.assert_array_equal(joint, compute_confident_joint(labels, probs, calibrate=False))


@pytest.mark.parametrize("seed", SEEDS)
def test_label_issues_match_cleanlab(seed):
    """cleanlab.filter.find_label_issues(filter_by='confident_learning') flags the same tickets, ranked the same way.

    cleanlab also drops a ticket whose top predicted intent is its given label; no off-diagonal
    ticket has that property here (checked below), so the two sets are equal.
    """
    from cleanlab.filter import find_label_issues

    labels, probs = _cleanlab_inputs(seed)
    issues = KEY.label_issues(DataSource(seed))
    train_ids = out_of_fold_probabilities(DataSource(seed).load("support_tickets").query("split == 'train'")).index
    off_diagonal = train_ids.isin(issues.index)
    assert not (off_diagonal & (probs.argmax(axis=1) == labels)).any()

    ranked = find_label_issues(labels, probs, filter_by="confident_learning",
                               return_indices_ranked_by="self_confidence")
    assert set(train_ids[ranked]) == set(issues.index)
    # same order up to ties: the self-confidence sequences agree
    np.testing.assert_allclose(probs[ranked, labels[ranked]], issues["self_confidence"].to_numpy())
    suggested = np.array(INTENTS)[np.where(probs >= np.array(
        [probs[labels == k, k].mean() for k in range(len(INTENTS))]), probs, -1).argmax(axis=1)]
    assert (pd.Series(suggested, index=train_ids)[issues.index] == issues["suggested_label"]).all()


def test_wilson_intervals_match_the_textbook_formula():
    """statsmodels' Wilson interval, used by the reference, equals the closed form (Wilson, 1927)."""
    estimates = KEY.audit_estimates(DataSource())
    audited = len(DataSource().load("support_tickets_audit"))
    z, p = 1.959963984540054, estimates["error_rate"]
    centre = (p + z**2 / (2 * audited)) / (1 + z**2 / audited)
    half = z * np.sqrt(p * (1 - p) / audited + z**2 / (4 * audited**2)) / (1 + z**2 / audited)
    np.testing.assert_allclose([estimates["error_ci_low"], estimates["error_ci_high"]], [centre - half, centre + half])


def test_sample_size_reproduces_the_worked_example():
    assert KEY.sample_size(0.05, 0.02) == 457
    assert KEY.sample_size(0.5, 0.02) == 2401
    assert KEY.relabel_sample_size(DataSource())["n_conservative"] == 2401
