"""Module 02: the planted problems are present on every seed, and the course's numbers agree with
well-kept libraries (cleanlab for confident learning, scipy for grouping, statsmodels for intervals)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from aipmlab import answer_key
from aipmlab.datasets import support_tickets
from aipmlab.exercises.core import DataSource, State, judge
from aipmlab.exercises.m02_data_quality_audit import (
    INTENTS, MODULE, UNDER_REPRESENTED_BELOW, cochran_sample_size, deploy_relabel_plan, near_duplicate_groups,
    normalise_text, one_word_variants, out_of_fold_probabilities,
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


def test_the_fast_fold_search_gives_scikit_learns_folds(generated):
    """The module's StratifiedGroupKFold, which weighs candidate folds all at once, splits exactly as
    scikit-learn's does (a scikit-learn upgrade that changed its private fold search would show here)."""
    from sklearn.model_selection import StratifiedGroupKFold

    from aipmlab.exercises.m02_data_quality_audit import CV_RANDOM_STATE, FOLDS, _stratified_group_folds

    _seed, _tables, tickets, _truth = generated
    train = tickets[tickets["split"] == "train"]
    ours, theirs = (kind(n_splits=FOLDS, shuffle=True, random_state=CV_RANDOM_STATE).split(
        train["text"], train["label"], groups=train["group"]) for kind in (_stratified_group_folds(), StratifiedGroupKFold))
    for (_, our_test), (_, their_test) in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(our_test, their_test)


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
    assert kinds["exact"] == round(support_tickets.TICKET_COUNT * truth.world.exact_copy_share)
    assert kinds.drop(["original", "exact"]).sum() == round(support_tickets.TICKET_COUNT
                                                            * truth.world.near_copy_share)
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
    pair = truth.world.confusable_pair
    in_pair = np.isin(truth.true_label, pair) & np.isin(given, pair)
    assert (flipped & in_pair).sum() >= 0.75 * flipped.sum()
    pair_rows = np.isin(truth.true_label, pair)
    assert abs(flipped[pair_rows].mean() - truth.world.pair_flip_rate) < 0.045
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


def test_audit_covers_the_test_split_and_a_random_training_sample(generated):
    _, tables, _, truth = generated
    audit, tickets = tables["support_tickets_audit"], tables["support_tickets"].set_index("ticket_id")
    assert audit["ticket_id"].is_unique and audit["ticket_id"].is_monotonic_increasing
    split = tickets.loc[audit["ticket_id"], "split"].to_numpy()
    assert (split == "train").sum() == support_tickets.AUDIT_SIZE
    assert (split == "test").sum() == (tickets["split"] == "test").sum(), "every test ticket is adjudicated"
    assert (audit["audit_label"].to_numpy() == truth.audit_true_label).mean() >= 0.98
    # a random sample: its error rate is close to the training split's
    given = tickets.loc[audit["ticket_id"], "label"].to_numpy()
    train_error = pd.Series(truth.label_flipped, index=tickets.index)[tickets["split"] == "train"].mean()
    sampled = split == "train"
    assert abs((given[sampled] != truth.audit_true_label[sampled]).mean() - train_error) < 0.04


def test_training_mix_under_represents_the_planted_thin_channels(generated):
    seed, _, _, truth = generated
    mix = KEY.slice_mix(DataSource(seed))
    assert set(mix.index[mix["under_represented"]]) == set(truth.world.thin_channels)
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
    audited = 400  # the random sample of training tickets; the test tickets are all adjudicated
    z, p = 1.959963984540054, estimates["error_rate"]
    centre = (p + z**2 / (2 * audited)) / (1 + z**2 / audited)
    half = z * np.sqrt(p * (1 - p) / audited + z**2 / (4 * audited**2)) / (1 + z**2 / audited)
    np.testing.assert_allclose([estimates["error_ci_low"], estimates["error_ci_high"]], [centre - half, centre + half])


def test_sample_size_reproduces_the_worked_example_and_the_correction():
    assert cochran_sample_size(0.05, 0.02, population=10**12) == 457  # the notebook's worked example
    assert cochran_sample_size(0.5, 0.02, population=10**12) == 2401
    # the correction matters when n0 is a large share: 1,475 of 3,196 shrinks by about a third
    n0 = 1.959963984540054 ** 2 * 0.04 * 0.96 / 0.01 ** 2
    assert cochran_sample_size(0.04, 0.01, population=3196) == math.ceil(n0 / (1 + (n0 - 1) / 3196)) < 0.7 * n0
    assert KEY.relabel_plan(DataSource())["n_check"] == cochran_sample_size(0.04, 0.01, population=3196)


# --- Worlds vary with the seed -------------------------------------------------------------------

def test_worlds_vary_the_qualitative_plants():
    worlds = [support_tickets.world(seed) for seed in range(40)]
    assert len({w.confusable_pair for w in worlds}) == len(support_tickets.CONFUSABLE_PAIRS)
    assert len({w.thin_channels for w in worlds}) == 3
    assert np.ptp([w.pair_flip_rate for w in worlds]) > 0.05
    for w in worlds:
        assert sum(w.production_channel_share.values()) == pytest.approx(1.0)
        assert abs(sum(w.training_channel_share.values()) - 1.0) < 1e-9
    assert support_tickets.world(3) == support_tickets.world(3)


def test_fresh_draws_share_the_world_but_not_the_tickets():
    first, truth = support_tickets.generate(5)
    again, again_truth = support_tickets.fresh_draw(5)
    assert truth.world == again_truth.world
    assert not first["support_tickets"]["text"].equals(again["support_tickets"]["text"])



def test_slots_drawn_in_bulk_are_the_slots_drawn_one_ticket_at_a_time():
    # one ticket in bulk consumes the stream as one ticket drawn alone: same numbers, same words, every slot
    for seed in range(20):
        one_at_a_time = support_tickets._slots(np.random.default_rng(seed))
        bulk = support_tickets._SlotsInBulk(np.random.default_rng(seed), 1).row(0)
        assert {slot: bulk[slot] for slot in one_at_a_time} == one_at_a_time
    world = support_tickets.world(5)
    fresh = support_tickets.sample_tickets(world, np.random.default_rng(1), 3000, slots_in_bulk=True)
    usual = support_tickets.sample_tickets(world, np.random.default_rng(2), 3000)
    assert fresh["text"].str.len().mean() == pytest.approx(usual["text"].str.len().mean(), rel=0.05)
    assert fresh["text"].nunique() > 0.95 * len(fresh)

# --- Tolerances are stated choices: 4-decimal rounding passes, a material error fails -------------

@pytest.mark.parametrize("key", ["leakage_effect", "audit_estimates", "relabel_plan"])
def test_answers_rounded_to_four_decimals_pass(key):
    data = DataSource()
    reference = getattr(KEY, key)(data)
    rounded = {name: round(value, 4) if isinstance(value, float) else value for name, value in reference.items()}
    exercise = MODULE.exercise(key)
    assert judge(exercise, rounded, data, reference, has_reference=True).state is State.CORRECT


def test_relabel_plan_checks_each_number_on_its_own():
    data = DataSource()
    reference = KEY.relabel_plan(data)
    exercise = MODULE.exercise("relabel_plan")
    for name, nudge in (("queue_recall", 0.01), ("rate_after_queue", 0.002), ("n_check", 1)):
        wrong = {**reference, name: reference[name] + nudge}
        assert judge(exercise, wrong, data, reference, has_reference=True).state is State.INCORRECT, name


# --- Deploying the plan ------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [support_tickets.CANONICAL_SEED, 7])
def test_deploying_the_reference_plan_has_small_regret_and_everything_large(seed):
    reference = KEY.relabel_plan(DataSource(seed))
    good = deploy_relabel_plan(reference, seed)
    assert good.regret <= 0.05 * good.value + 1e-9
    assert "regret" in good.summary and good.table is not None
    absurd = deploy_relabel_plan({**reference, "plan": "all"}, seed)
    assert absurd.regret > 1000, "re-reading every ticket when the queue is enough wastes days of expert time"


# --- The written examples quote true figures -----------------------------------------------------

def _canonical_figures() -> set[str]:
    data = DataSource()
    tickets = data.load("support_tickets")
    refs = {key: getattr(KEY, key)(data) for key in ("duplicate_counts", "leakage_effect", "audit_estimates",
                                                     "relabel_plan")}
    joint = KEY.confident_joint(data).to_numpy()
    both = joint + joint.T
    np.fill_diagonal(both, 0)
    mix = KEY.slice_mix(data)
    test = KEY._test_predictions(None)
    unleaked = test[~test["leaked"]].merge(data.load("support_tickets_audit"), on="ticket_id")
    per_channel = (unleaked["predicted"] == unleaked["audit_label"]).groupby(unleaked["channel"]).mean()
    production = (per_channel * mix["production_share"]).sum()
    dup, leak, est, plan = (refs[k] for k in ("duplicate_counts", "leakage_effect", "audit_estimates", "relabel_plan"))
    train_count = int((tickets["split"] == "train").sum())
    copies = dup["exact"] + dup["formatting"] + dup["small_edit"]
    shares = [leak["leaked_share"], leak["accuracy_reported"], leak["accuracy_unleaked"], leak["accuracy_adjudicated"],
              leak["adjudicated_ci_low"], leak["adjudicated_ci_high"], est["error_rate"], est["error_ci_low"],
              est["error_ci_high"], est["flagged_precision"], est["precision_ci_low"], est["precision_ci_high"],
              plan["queue_recall"], plan["rate_after_queue"], production, copies / len(tickets),
              *mix["train_share"], *mix["production_share"], 0.95, 0.04]
    figures = {f"{share:.1%}" for share in shares} | {f"{share:.0%}" for share in shares}
    counts = [len(tickets), train_count, len(tickets) - train_count, copies, *dup.values(), leak["leaked"],
              len(KEY.label_issues(data)), est["flagged_audited"], plan["n_check"], int(both.max()),
              int(both.sum() // 2), 400, 5, round(est["error_ci_low"] * train_count),
              round(est["error_ci_high"] * train_count), round(est["error_rate"] * train_count)]
    figures |= {str(count) for count in counts}
    points = [100 * (leak["accuracy_reported"] - leak["accuracy_unleaked"]),
              100 * (leak["accuracy_adjudicated"] - leak["accuracy_unleaked"])]
    figures |= {f"{point:.1f}" for point in points}
    return figures


@pytest.mark.parametrize("key", ["datasheet_entries", "next_run_decision"])
def test_example_answers_quote_only_figures_the_canonical_data_gives(key):
    import re

    figures = _canonical_figures()
    for example in KEY.EXAMPLES[key]:
        if example.level == "weak":
            continue
        quoted = re.findall(r"(?<![\w.])\d[\d,]*(?:\.\d+)?%?", example.text)
        untrue = [figure for figure in quoted if figure not in figures and not figure.startswith("95%")]
        assert not untrue, f"{key} {example.level} quotes figures the canonical data does not give: {untrue}"
