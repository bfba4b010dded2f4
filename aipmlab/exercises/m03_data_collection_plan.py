"""Module 03 — a data collection plan from an annotation pilot: exercise definitions."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from aipmlab.course import Module
from aipmlab.exercises import checks
from aipmlab.exercises.core import DataSource, Exercise, Incorrect, Outcome, Written

LABELS = ("ok", "spam", "off_topic", "harassment", "misinformation")
DOMINANT_LABEL = "ok"

# Landis & Koch (1977): upper end of each band, in order. A convention, not a law.
LANDIS_KOCH_BANDS = ((0.0, "poor"), (0.20, "slight"), (0.40, "fair"), (0.60, "moderate"), (0.80, "substantial"),
                     (1.0, "almost perfect"))

# Krippendorff's commonly cited guideline for alpha: 0.800 to rely on the data, 0.667 at the very least
# for tentative conclusions. The team set its go/no-go rule on the stricter one, before the pilot.
TENTATIVE_ALPHA = 0.667
TARGET_ALPHA = 0.800
BOOTSTRAP_SEED = 303
BOOTSTRAP_RESAMPLES = 1000
DECISIONS = ("go", "revise_guideline", "rework_taxonomy")

# Written before the pilot: a rater whose mean Cohen's kappa with the others falls more than EXCLUSION_GAP below
# the median rater's is excluded from the agreement figures (and retrained), whatever the result.
EXCLUSION_GAP = 0.15

# What each label makes the product do, and what a mix-up between two labels costs users, in relative units per
# disagreeing pair of ratings (set by the product team before the pilot). A mix-up between two labels that both
# take the comment down costs less than one that leaves abuse up or warns an honest critic.
LABEL_ACTION = {"ok": "publish", "spam": "remove", "off_topic": "collapse under the thread",
                "harassment": "remove and warn the author", "misinformation": "publish with a fact-check note"}
CONFUSION_COST = {
    ("ok", "spam"): 4, ("off_topic", "ok"): 1, ("harassment", "ok"): 6, ("misinformation", "ok"): 5,
    ("off_topic", "spam"): 3, ("harassment", "spam"): 2, ("misinformation", "spam"): 3,
    ("harassment", "off_topic"): 5, ("misinformation", "off_topic"): 4, ("harassment", "misinformation"): 4,
}

# Re-pilot sizing: the sizes the vendor offers, and the chance of passing the go rule the team wants before
# promising a re-pilot (the power). It is planned on the pessimistic end of the what-if (resolved_ci_low): the
# what-if forgives every mix-up inside the pair, which a revised guideline will not.
REPILOT_SIZES = (150, 300, 450, 600, 900, 1200, 1800, 2400)
REPILOT_POWER = 0.80

# The plan: what the team will buy after the pilot.
BASE_ITEMS = 50_000            # comments drawn at random from traffic
TRAFFIC_SHARE = {"product_reviews": 0.50, "community_forum": 0.28, "seller_questions": 0.18, "live_chat": 0.04}
MARGIN = 0.02                  # each surface's share of comments needing action, within ±2 points...
CONFIDENCE = 0.95              # ...with 95% confidence
Z = 1.959963984540054          # the normal quantile for 95% two-sided
MIN_PILOT_ITEMS = 30           # fewer pilot comments than this on a surface: plan with p = 0.5
COST_PER_LABEL = 0.10          # dollars per label from one rater
ADJUDICATION_COST = 0.80       # dollars per item an expert adjudicates
BUDGET_CAP = 12_000            # dollars available for the whole job
MIN_OVERLAP_SHARE = 0.05       # below this the overlap set is too small to monitor agreement
MIN_EXAMPLES_PER_PAIR_LABEL = 2
# A moderation classifier needs positives of every rare label on every surface, to train and to measure recall:
# 200 positives measure a recall near 50% within about ±7 points (95%). The trust and safety team's logs say no
# rare label falls below RARE_SHARE_FLOOR of any surface; a 300-comment pilot cannot say more per surface.
MIN_POSITIVES = 200
RARE_SHARE_FLOOR = 0.02
POSITIVES_SAFETY_Z = 1.645     # plan so that a fresh draw reaches MIN_POSITIVES about 95 times in 100

# Tolerances, each a stated choice: answers rounded to 4 decimals pass, a material error fails.
SHARE_ATOL = 5e-4              # agreement shares and coefficients (4-decimal rounding moves them at most 5e-5)
INTERVAL_ATOL = 5e-3           # bootstrap bounds: the same procedure written another way lands within this
PLANNING_RATE_ATOL = 5e-3      # a planning rate this close to the pilot's share is the pilot's share
PLACEHOLDERS = ("todo", "tbd", "your answer", "lorem", "xxx", "fill in", "...", "placeholder")

PLAN_KEYS = ("taxonomy", "guideline_examples", "confused_pair", "rater_quality", "agreement_target", "overlap",
             "adjudication", "precision", "slices", "augmentation", "budget")
SLICE_FIELDS = ("pilot_items", "planning_rate", "required_n", "rare_share", "positives_n", "natural_n", "n_items",
                "augmented_n")
BUDGET_FIELDS = ("items", "overlap_items", "labels", "adjudicated_items", "labelling_cost", "adjudication_cost",
                 "total")


def _ratings(data: DataSource) -> pd.DataFrame:
    return data.load("annotation_pilot_ratings")


def _raters(data: DataSource) -> list[str]:
    return sorted(_ratings(data)["rater_id"].unique())


def required_sample_size(planning_rate: float, margin: float = MARGIN, z: float = Z) -> int:
    """Items needed to estimate a share near `planning_rate` within ±margin: ceil(z² p(1−p) / E²)."""
    return math.ceil(z**2 * planning_rate * (1 - planning_rate) / margin**2 - 1e-9)


def items_for_positives(share: float, positives: int = MIN_POSITIVES, z: float = POSITIVES_SAFETY_Z) -> int:
    """Items to draw so that a label with this share yields `positives` of them about 95 times in 100."""
    return math.ceil((positives + z * math.sqrt(positives)) / share - 1e-9)


def repilot_power(planning_alpha: float, bootstrap_sd: float, pilot_items: int, repilot_items: int) -> float:
    """Chance that a re-pilot's lower bound clears TARGET_ALPHA if its true alpha is `planning_alpha` (normal)."""
    from scipy.stats import norm

    sd = bootstrap_sd * math.sqrt(pilot_items / repilot_items)
    return float(norm.cdf((planning_alpha - TARGET_ALPHA) / sd - Z))


def _require_text(value: Any, name: str, hint: int, min_words: int = 1) -> str:
    if not isinstance(value, str) or len(value.split()) < min_words:
        words = "some text" if min_words == 1 else f"at least {min_words} words of text"
        raise Incorrect(f"{name} should be {words}; it is {checks.type_name(value)!s}"
                        f"{' that is too short' if isinstance(value, str) else ''}.", hint)
    if any(mark in value.lower() for mark in PLACEHOLDERS):
        raise Incorrect(f"{name} still holds placeholder text; write what the plan will actually do.", hint)
    return value


def _require_pair(value: Any, name: str, hint: int) -> set[str]:
    labels = checks.require_labels(value, LABELS, name, hint)
    if len(labels) != 2:
        raise Incorrect(f"{name} should name exactly two different labels.", hint)
    return set(labels)


# --- Exercise 1 --------------------------------------------------------------------------------

def _raw_structure(answer: Any, data: DataSource) -> None:
    checks.require_mapping(answer, ["mean_pairwise", "unanimous_share"], "raw_agreement", 1)
    pairwise = checks.require_probability(answer["mean_pairwise"], "raw_agreement['mean_pairwise']", 1)
    unanimous = checks.require_probability(answer["unanimous_share"], "raw_agreement['unanimous_share']", 2)
    if unanimous > pairwise + 1e-9:
        raise Incorrect("unanimous_share cannot exceed mean_pairwise: on an item where all raters agree, every pair "
                        "agrees too.", 2)


def _raw_compare(answer: dict, expected: dict) -> None:
    checks.compare_values(answer, expected, {
        "mean_pairwise": ("mean_pairwise is off. For every pair of different raters, take the share of items they "
                          "labelled the same; then average over the pairs.", 1),
        "unanimous_share": ("unanimous_share is off. It is the share of items on which all five raters chose the "
                            "same label.", 2),
    }, SHARE_ATOL)


RAW_AGREEMENT = Exercise(
    key="raw_agreement", number=1, title="Raw agreement, stated precisely", points=1,
    expects="a dict with keys 'mean_pairwise' and 'unanimous_share', both shares between 0 and 1",
    hints=(
        "Two different questions: how often does a typical *pair* of raters agree, and how often does *everyone* "
        "agree? For the first, list every pair of different raters once (`itertools.combinations(labels.columns, "
        "2)`), take each pair's share of comments labelled the same, and average.",
        "A comment is unanimous when its row of `labels` holds a single distinct label (`nunique(axis=1)`). Before "
        "you compute it: should it come out above or below the pairwise figure, and why?",
    ),
    check_structure=_raw_structure, compare=_raw_compare,
)


# --- Exercise 2 --------------------------------------------------------------------------------

def _kappa_structure(answer: Any, data: DataSource) -> None:
    raters = _raters(data)
    frame = checks.require_frame(answer, "pairwise_kappa", "rater_id", raters, raters, 1)
    checks.require_numeric_columns(frame, "pairwise_kappa", raters, -1.0, 1.0, hint=1)
    matrix = frame.loc[raters, raters].to_numpy(dtype=float)
    if not np.allclose(np.diag(matrix), 1.0):
        raise Incorrect("The diagonal of pairwise_kappa compares each rater with themselves, so it should be 1.", 1)
    if not np.allclose(matrix, matrix.T, atol=1e-9):
        raise Incorrect("pairwise_kappa should be symmetric: the kappa of (a, b) equals the kappa of (b, a).", 2)


def _kappa_compare(answer: Any, expected: Any) -> None:
    raters = list(expected.columns)
    checks.compare_columns(answer.loc[list(expected.index), raters], expected, "pairwise_kappa",
                           {rater: 2 for rater in raters}, SHARE_ATOL)


PAIRWISE_KAPPA = Exercise(
    key="pairwise_kappa", number=2, title="Cohen's kappa for every pair of raters", points=2,
    expects="a DataFrame indexed by `rater_id`, with one column per rater, holding Cohen's kappa (1 on the diagonal)",
    hints=(
        "Kappa asks how much better than chance two raters agree. For one pair: p_o is the share of comments they "
        "label the same; p_e is how often they would agree if each kept their own label habits but chose "
        "independently: for each label, a's share of it times b's share of it, summed. Then kappa = (p_o - p_e) / "
        "(1 - p_e). Fill a rater x rater table; name the index `rater_id`.",
        "Each rater keeps their *own* label shares in p_e (that is what makes it Cohen's kappa, not Scott's pi). "
        "Labels are categories with no order, so no weights. `sklearn.metrics.cohen_kappa_score(a, b)` checks one "
        "cell.",
    ),
    check_structure=_kappa_structure, compare=_kappa_compare,
)


# --- Exercise 3 --------------------------------------------------------------------------------

BAND_NAMES = tuple(name for _, name in LANDIS_KOCH_BANDS)


def _coefficients_structure(answer: Any, data: DataSource) -> None:
    checks.require_mapping(answer, ["fleiss_kappa", "krippendorff_alpha", "landis_koch_band"],
                           "agreement_coefficients", 1)
    checks.require_number(answer["fleiss_kappa"], "agreement_coefficients['fleiss_kappa']", -1.0, 1.0, 1)
    checks.require_number(answer["krippendorff_alpha"], "agreement_coefficients['krippendorff_alpha']", -1.0, 1.0, 2)
    band = answer["landis_koch_band"]
    if not isinstance(band, str) or band.strip().lower() not in BAND_NAMES:
        raise Incorrect(f"agreement_coefficients['landis_koch_band'] should be one of the band names: "
                        f"{', '.join(map(repr, BAND_NAMES))}.", 3)


def _coefficients_compare(answer: dict, expected: dict) -> None:
    if not checks.numbers_match(answer["fleiss_kappa"], expected["fleiss_kappa"], SHARE_ATOL):
        raise Incorrect("fleiss_kappa is off. Use all five raters; P̄ is the mean over items of the share of agreeing "
                        "rater pairs, and P̄_e sums the squared shares of each label over all ratings.", 1)
    if not checks.numbers_match(answer["krippendorff_alpha"], expected["krippendorff_alpha"], SHARE_ATOL):
        raise Incorrect("krippendorff_alpha is off. Use all five raters and the nominal distance (0 when two labels "
                        "match, 1 otherwise): alpha = 1 - D_o / D_e.", 2)
    if answer["landis_koch_band"].strip().lower() != expected["landis_koch_band"]:
        raise Incorrect("landis_koch_band is off. Read the band of Fleiss' kappa (not of raw agreement) from the "
                        "Landis-Koch table.", 3)


AGREEMENT_COEFFICIENTS = Exercise(
    key="agreement_coefficients", number=3, title="Fleiss' kappa and Krippendorff's alpha", points=2,
    expects="a dict with keys 'fleiss_kappa', 'krippendorff_alpha' (numbers) and 'landis_koch_band' (a band name)",
    hints=(
        "Count, for each item, how many raters chose each label: `counts` has one row per item and one column per "
        "label. With m raters, item i's agreement is sum_j n_ij (n_ij - 1) / (m (m - 1)); P̄ is its mean. "
        "p_j is label j's share of all ratings; P̄_e = sum_j p_j². Fleiss' kappa = (P̄ - P̄_e) / (1 - P̄_e).",
        "For alpha, build the coincidence matrix o: every ordered pair of different raters on an item adds "
        "1 / (m - 1) to cell (label of first, label of second). n_c are its row sums and n their total. "
        "D_o = off-diagonal sum of o / n; D_e = (n² - sum n_c²) / (n (n - 1)); alpha = 1 - D_o / D_e.",
        "Landis and Koch's bands: below 0 poor, up to 0.20 slight, up to 0.40 fair, up to 0.60 moderate, up to "
        "0.80 substantial, above that almost perfect. LANDIS_KOCH_BANDS lists each band's upper end.",
    ),
    check_structure=_coefficients_structure, compare=_coefficients_compare,
)


# --- Exercise 4 --------------------------------------------------------------------------------

PARADOX_COLUMNS = ["prevalence", "percent_agreement", "expected_agreement", "kappa"]


def _paradox_structure(answer: Any, data: DataSource) -> None:
    frame = checks.require_frame(answer, "kappa_paradox", "label", LABELS, PARADOX_COLUMNS, 1)
    checks.require_numeric_columns(frame, "kappa_paradox", PARADOX_COLUMNS[:3], 0.0, 1.0, hint=1)
    checks.require_numeric_columns(frame, "kappa_paradox", ["kappa"], -1.0, 1.0, hint=2)
    # Five shares rounded to 4 decimals can miss 1 by 2.5e-4; a forgotten label misses by far more.
    if abs(frame["prevalence"].astype(float).sum() - 1.0) > 1e-3:
        raise Incorrect("The prevalences should add up to 1: each is one label's share of all ratings.", 1)
    po, pe, kappa = (frame[c].astype(float) for c in ("percent_agreement", "expected_agreement", "kappa"))
    # Rounding p_o and p_e to 4 decimals moves (p_o - p_e) / (1 - p_e) by up to about 1e-4 / (1 - p_e): allow
    # SHARE_ATOL on kappa plus that amplification, so rounded answers pass and a wrong formula does not.
    allowed = SHARE_ATOL + 2e-4 / (1 - pe).clip(lower=1e-3)
    if ((kappa - (po - pe) / (1 - pe)).abs() > allowed).any():
        raise Incorrect("In each row, kappa should be (percent_agreement - expected_agreement) / "
                        "(1 - expected_agreement).", 2)


def _paradox_compare(answer: Any, expected: Any) -> None:
    checks.compare_columns(answer.loc[list(expected.index)], expected, "kappa_paradox",
                           {"prevalence": 1, "percent_agreement": 2, "expected_agreement": 2, "kappa": 2}, SHARE_ATOL)


KAPPA_PARADOX = Exercise(
    key="kappa_paradox", number=4, title="The kappa paradox: high agreement, low kappa", points=2,
    expects="a DataFrame indexed by `label` with columns prevalence, percent_agreement, expected_agreement, kappa",
    hints=(
        "For one label, turn every rating into a yes/no question: is it this label? `labels == label` does that. "
        "prevalence is the share of all 1,500 ratings that say yes. Before computing, guess: will raw agreement on "
        "a rare label be high or low, and why?",
        "On that yes/no table, compute Fleiss' kappa as in exercise 3, with two categories: yes and no. "
        "percent_agreement is P̄ and expected_agreement is P̄_e = p² + (1 - p)², where p is the prevalence.",
    ),
    check_structure=_paradox_structure, compare=_paradox_compare,
)


# --- Exercise 5 --------------------------------------------------------------------------------

def excluded_by_rule(mean_kappa: Mapping[str, float]) -> list[str]:
    """The raters the pre-registered rule excludes: mean kappa more than EXCLUSION_GAP below the median rater's."""
    median = float(np.median(list(mean_kappa.values())))
    return sorted(rater for rater, value in mean_kappa.items() if value < median - EXCLUSION_GAP)


def confusion_cost(first: str, second: str) -> float:
    """What one disagreeing pair of ratings between two labels costs users (CONFUSION_COST, either order)."""
    return 0.0 if first == second else float(CONFUSION_COST[tuple(sorted((first, second)))])


def _diagnosis_structure(answer: Any, data: DataSource) -> None:
    checks.require_mapping(answer, ["excluded_raters", "confusion", "confused_pair"], "diagnosis", 1)
    raters = _raters(data)
    excluded = checks.require_labels(answer["excluded_raters"], raters, "diagnosis['excluded_raters']", 1)
    if len(excluded) > len(raters) - 2:
        raise Incorrect("diagnosis['excluded_raters'] leaves fewer than two raters, and agreement needs two.", 1)
    frame = checks.require_frame(answer["confusion"], "diagnosis['confusion']", "label", LABELS, LABELS, 2)
    checks.require_numeric_columns(frame, "diagnosis['confusion']", LABELS, 0, None, hint=2)
    matrix = frame.loc[list(LABELS), list(LABELS)].to_numpy(dtype=float)
    if not np.allclose(matrix, matrix.T):
        raise Incorrect("diagnosis['confusion'] should be symmetric: count every pair of raters in both orders, "
                        "(a, b) and (b, a).", 2)
    items = _ratings(data)["item_id"].nunique()
    kept = len(raters) - len(excluded)
    if abs(matrix.sum() - items * kept * (kept - 1)) > 1e-6:
        raise Incorrect("diagnosis['confusion'] should hold one count per item for every ordered pair of two "
                        "different raters among the raters you keep (all but the excluded ones).", 2)
    _require_pair(answer["confused_pair"], "diagnosis['confused_pair']", 3)


def _diagnosis_compare(answer: dict, expected: dict) -> None:
    if sorted(answer["excluded_raters"]) != sorted(expected["excluded_raters"]):
        raise Incorrect("excluded_raters is off: apply the rule written before the pilot to every rater's mean kappa "
                        "with the others, and list exactly the raters it excludes.", 1)
    confusion = answer["confusion"].loc[list(LABELS), list(LABELS)].astype(float)
    if not np.allclose(confusion.to_numpy(), expected["confusion"].to_numpy(dtype=float)):
        raise Incorrect("The counts in diagnosis['confusion'] are off. Drop the excluded raters first, then add, for "
                        "each item and each ordered pair of kept raters, one count to (first's label, second's "
                        "label).", 2)
    if set(answer["confused_pair"]) != set(expected["confused_pair"]):
        raise Incorrect("confused_pair is off: it is the pair whose disagreements cost users most, each cell of the "
                        "confusion matrix times CONFUSION_COST, not simply the largest count.", 3)


DIAGNOSIS = Exercise(
    key="diagnosis", number=5, title="Who disagrees, and about what?", points=2,
    expects="a dict {'excluded_raters': [rater id, ...], 'confusion': label x label DataFrame, "
            "'confused_pair': [label, label]}",
    hints=(
        "The rule was written before anyone saw the data, so apply it as written: each rater's mean kappa with the "
        "others is their column of pairwise_kappa without the diagonal 1. Which raters sit more than EXCLUSION_GAP "
        "below the median rater? `excluded_by_rule` applies the rule to a dict {rater: mean kappa}.",
        "Drop the excluded raters' columns from `labels`. For every ordered pair (a, b) of the remaining raters "
        "(`itertools.permutations`), add `pd.crosstab(labels[a], labels[b])` (reindexed to LABELS on both axes, "
        "fill 0) into one total. Index and columns are labels; name the index `label`.",
        "A count says how often raters disagree; the product cares what the disagreement does to users. Weigh each "
        "off-diagonal cell by what that mix-up costs (`confusion_cost(row_label, column_label)`), then ask which "
        "pair costs most. Is it the same pair as the largest count?",
    ),
    check_structure=_diagnosis_structure, compare=_diagnosis_compare,
)


# --- Exercise 6 --------------------------------------------------------------------------------

GO_KEYS = ["alpha_all_raters", "alpha", "ci_low", "ci_high", "alpha_if_pair_resolved", "resolved_ci_low", "decision",
           "repilot_items"]


def decision_rule(ci_low: float, resolved_ci_low: float) -> str:
    """The go/no-go rule the team wrote before the pilot: both branches read a lower bound, never a point estimate."""
    if ci_low >= TARGET_ALPHA:
        return "go"
    if resolved_ci_low >= TARGET_ALPHA:
        return "revise_guideline"
    return "rework_taxonomy"


def _go_structure(answer: Any, data: DataSource) -> None:
    checks.require_mapping(answer, GO_KEYS, "go_no_go", 1)
    values = {k: checks.require_number(answer[k], f"go_no_go[{k!r}]", -1.0, 1.0, 1) for k in GO_KEYS[:6]}
    if not values["ci_low"] <= values["alpha"] <= values["ci_high"]:
        raise Incorrect("A percentile interval should contain its point estimate: ci_low <= alpha <= ci_high.", 2)
    if values["resolved_ci_low"] > values["alpha_if_pair_resolved"]:
        raise Incorrect("resolved_ci_low is the lower end of the what-if's interval, so it cannot exceed "
                        "alpha_if_pair_resolved.", 3)
    if answer["decision"] not in DECISIONS:
        raise Incorrect(f"go_no_go['decision'] should be one of {', '.join(map(repr, DECISIONS))}.", 3)
    if answer["decision"] != decision_rule(values["ci_low"], values["resolved_ci_low"]):
        raise Incorrect("The decision does not follow the rule the team wrote before the pilot, applied to your own "
                        "numbers. Both branches read a lower end of an interval, not a point estimate.", 3)
    if checks.require_whole_number(answer["repilot_items"], "go_no_go['repilot_items']", 1, 4) not in REPILOT_SIZES:
        raise Incorrect("go_no_go['repilot_items'] should be one of the sizes the vendor offers, REPILOT_SIZES.", 4)


def _go_compare(answer: dict, expected: dict) -> None:
    if not checks.numbers_match(answer["alpha_all_raters"], expected["alpha_all_raters"], SHARE_ATOL):
        raise Incorrect("alpha_all_raters is off. It is Krippendorff's alpha of all five raters, as in exercise 3.", 1)
    if not checks.numbers_match(answer["alpha"], expected["alpha"], SHARE_ATOL):
        raise Incorrect("alpha is off. It is Krippendorff's alpha of the raters you keep: all but the excluded.", 1)
    for bound in ("ci_low", "ci_high", "resolved_ci_low"):
        if not checks.numbers_match(answer[bound], expected[bound], INTERVAL_ATOL):
            raise Incorrect(f"{bound} is off. In each resample draw whole items (rows) first, then the one kept rater "
                            f"to leave out, with the stated generator and number of resamples; take the 2.5th and "
                            f"97.5th percentiles.", 2)
    if not checks.numbers_match(answer["alpha_if_pair_resolved"], expected["alpha_if_pair_resolved"], SHARE_ATOL):
        raise Incorrect("alpha_if_pair_resolved is off. Keep every item and rater you kept, and relabel one label of "
                        "the confused pair as the other, so that choosing between them no longer counts.", 3)
    if answer["repilot_items"] != expected["repilot_items"]:
        raise Incorrect("repilot_items is off. It is the smallest size in REPILOT_SIZES whose power (repilot_power, "
                        "planned on resolved_ci_low with the spread of the what-if's bootstrap) reaches "
                        "REPILOT_POWER.", 4)


def _deploy_go_no_go(answer: dict, seed: int) -> Outcome:
    """Buy the 50,000 labels as decided, on a fresh draw from the world: their true alpha, against the best call."""
    from aipmlab.datasets import annotation_pilot as simulator

    at_scale = {"go": simulator.population_alpha(seed, "v1"),
                "revise_guideline": simulator.population_alpha(seed, "v2")}
    at_scale["rework_taxonomy"] = at_scale["revise_guideline"]  # the rework lands where the guideline fix would
    decision = answer["decision"]
    best = max(at_scale, key=at_scale.get)
    value = at_scale[decision]
    passes = "reaches" if value >= TARGET_ALPHA else "misses"
    summary = (f"With '{decision}', the 50,000 labels the vendor delivers have alpha {value:.3f} at scale, which "
               f"{passes} the target of {TARGET_ALPHA:.3f}. The best call in hindsight, '{best}', gives "
               f"{at_scale[best]:.3f}: a regret of {max(0.0, at_scale[best] - value):.3f}.")
    if decision == "rework_taxonomy" and at_scale["revise_guideline"] >= TARGET_ALPHA:
        summary += (" The rework reaches the same agreement, but costs a taxonomy redesign the guideline fix did "
                    "not need.")
    table = pd.DataFrame({"alpha_at_scale": at_scale}).rename_axis("decision")
    return Outcome(decision, value, at_scale[best], "Krippendorff's alpha of the purchased labels", True, summary,
                   table)


GO_NO_GO = Exercise(
    key="go_no_go", number=6, title="How sure are we? A go/no-go against a rule set in advance", points=3,
    expects="a dict with keys " + ", ".join(map(repr, GO_KEYS)),
    hints=(
        "Two alphas: all five raters (the honest headline), and the raters the pre-registered rule keeps (what the "
        "go rule reads). Report both; neither replaces the other.",
        "rng = np.random.default_rng(BOOTSTRAP_SEED). In each of BOOTSTRAP_RESAMPLES rounds: rows = "
        "rng.integers(0, n_items, n_items), then left_out = rng.integers(0, n_kept_raters); compute alpha of the "
        "resampled rows without that rater, for the kept labels and for the merged (what-if) labels. Percentiles "
        "2.5 and 97.5 give the interval; the what-if's 2.5th percentile is resolved_ci_low.",
        "The what-if relabels one label of your confused pair as the other, `kept.replace({first: second})`. The rule "
        "reads lower ends only: `decision_rule(ci_low, resolved_ci_low)`.",
        "Before promising a re-pilot, ask how often it would pass. The what-if forgives every mix-up inside the pair, "
        "which a revised guideline will not, so plan on its pessimistic end: `repilot_power(resolved_ci_low, sd, "
        "len(kept), n)` with sd the spread of the what-if's bootstrap alphas (`np.std`). Take the smallest "
        "n in REPILOT_SIZES that reaches REPILOT_POWER (the largest size if none does).",
    ),
    check_structure=_go_structure, compare=_go_compare, deploy=_deploy_go_no_go,
)


# --- Exercise 7 --------------------------------------------------------------------------------

GUIDELINE_WRITTEN = Written(manual_points=6, min_words=60)
MIN_SENTENCES = 4


def _guideline_structure(answer: Any, data: DataSource) -> None:
    """Beyond length and a figure: two labels of the taxonomy named, written in sentences, not a list of keywords."""
    named = {label for label in LABELS if label in answer.lower() or label.replace("_", " ") in answer.lower()}
    if len(named) < 2:
        raise Incorrect("guideline_revision should name the two labels it separates, spelled as in the taxonomy.", 1)
    sentences = [part for part in re.split(r"[.!?]+(?:\s|$)", answer) if len(part.split()) >= 3]
    if len(sentences) < MIN_SENTENCES or max(len(part.split()) for part in sentences) > 70:
        raise Incorrect(f"guideline_revision should be written in sentences a rater can follow (at least "
                        f"{MIN_SENTENCES}): a rule, examples with reasons, the evidence and the follow-up.", 1)


GUIDELINE_REVISION = Exercise(
    key="guideline_revision", number=7, title="Revise the guideline where raters split", points=0,
    expects="your guideline revision as text in triple quotes",
    hints=(
        "A good guideline entry for a confused pair has three parts: a decision rule that a new rater can apply "
        "in seconds (a test, not a definition), worked examples on both sides of the line, and the hard "
        "case the rule settles. Take your examples from the items raters split on.",
        "Say why the change is needed with a figure from the pilot (how many items, or how many rating pairs, "
        "split between the two labels), and how you will know the fix worked (the re-pilot's alpha).",
    ),
    written=GUIDELINE_WRITTEN, check_structure=_guideline_structure,
)


# --- Exercise 8 --------------------------------------------------------------------------------

def _plan_nonempty(plan: Mapping) -> None:
    for key in PLAN_KEYS:
        value = plan[key]
        if key == "augmentation":  # may be empty only when no surface needs extra items (checked later)
            continue
        if value is None or (hasattr(value, "__len__") and len(value) == 0):
            raise Incorrect(f"collection_plan[{key!r}] is empty; every part of the plan needs content.", 1)


def _plan_taxonomy_and_examples(plan: Mapping) -> None:
    taxonomy = checks.require_mapping(plan["taxonomy"], LABELS, "collection_plan['taxonomy']", 1)
    for label in LABELS:
        _require_text(taxonomy[label], f"The definition of {label!r} in the taxonomy", 1, min_words=3)
    if len({" ".join(taxonomy[label].lower().split()) for label in LABELS}) < len(LABELS):
        raise Incorrect("Two labels of collection_plan['taxonomy'] share one definition; each label needs its own.", 1)
    examples = plan["guideline_examples"]
    if isinstance(examples, (str, Mapping)) or not isinstance(examples, (list, tuple)) or len(examples) < 4:
        raise Incorrect("collection_plan['guideline_examples'] should be a list of at least four examples.", 1)
    for number, example in enumerate(examples, 1):
        checks.require_mapping(example, ["text", "label", "why"], f"guideline example {number}", 1)
        _require_text(example["text"], f"The text of guideline example {number}", 1)
        _require_text(example["why"], f"The 'why' of guideline example {number}", 1, min_words=3)
        if example["label"] not in LABELS:
            raise Incorrect(f"Guideline example {number} has a label that is not in the taxonomy.", 1)
    if len({" ".join(str(example["text"]).lower().split()) for example in examples}) < len(examples):
        raise Incorrect("Two guideline examples share one text; each example should be a different comment.", 1)
    _require_pair(plan["confused_pair"], "collection_plan['confused_pair']", 1)


def _plan_process(plan: Mapping, raters: list[str]) -> None:
    quality = checks.require_mapping(plan["rater_quality"], ["flagged_raters", "action"],
                                     "collection_plan['rater_quality']", 1)
    checks.require_labels(quality["flagged_raters"], raters, "collection_plan['rater_quality']['flagged_raters']", 1)
    _require_text(quality["action"], "collection_plan['rater_quality']['action']", 1, min_words=3)
    target = checks.require_mapping(plan["agreement_target"], ["metric", "minimum", "judged_on"],
                                    "collection_plan['agreement_target']", 1)
    if target["metric"] != "krippendorff_alpha":
        raise Incorrect("The agreement target is stated on 'krippendorff_alpha', the coefficient the go/no-go "
                        "rule uses.", 1)
    checks.require_number(target["minimum"], "collection_plan['agreement_target']['minimum']", TENTATIVE_ALPHA, 1.0, 1)
    if target["judged_on"] != "ci_low":
        raise Incorrect("The agreement target is judged on 'ci_low', the lower end of the interval, as in the "
                        "go/no-go rule.", 1)
    overlap = checks.require_mapping(plan["overlap"], ["share", "raters_per_item"], "collection_plan['overlap']", 1)
    checks.require_number(overlap["share"], "collection_plan['overlap']['share']", MIN_OVERLAP_SHARE, 1.0, 1)
    checks.require_whole_number(overlap["raters_per_item"], "collection_plan['overlap']['raters_per_item']", 2, 1)
    adjudication = checks.require_mapping(plan["adjudication"], ["trigger", "adjudicator", "expected_share"],
                                          "collection_plan['adjudication']", 1)
    _require_text(adjudication["trigger"], "collection_plan['adjudication']['trigger']", 1, min_words=3)
    _require_text(adjudication["adjudicator"], "collection_plan['adjudication']['adjudicator']", 1)
    share = checks.require_probability(adjudication["expected_share"],
                                       "collection_plan['adjudication']['expected_share']", 1)
    if share <= 0:
        raise Incorrect("collection_plan['adjudication']['expected_share'] should be above 0: the pilot shows that "
                        "raters do disagree.", 1)
    precision = checks.require_mapping(plan["precision"], ["margin", "confidence"], "collection_plan['precision']", 1)
    if not (checks.numbers_match(precision["margin"], MARGIN, 1e-12)
            and checks.numbers_match(precision["confidence"], CONFIDENCE, 1e-12)):
        raise Incorrect("collection_plan['precision'] should restate the team's target: MARGIN and CONFIDENCE.", 2)


def _plan_slices(plan: Mapping, data: DataSource) -> None:
    pilot_items = data.load("annotation_pilot_items")["surface"].value_counts()
    slices = checks.require_mapping(plan["slices"], TRAFFIC_SHARE, "collection_plan['slices']", 2)
    for name in TRAFFIC_SHARE:
        entry = checks.require_mapping(slices[name], SLICE_FIELDS, f"collection_plan['slices'][{name!r}]", 2)
        where = f"In collection_plan['slices'][{name!r}]"
        if checks.require_whole_number(entry["pilot_items"], f"{where}, pilot_items", 0, 2) != pilot_items[name]:
            raise Incorrect(f"{where}, pilot_items should count that surface's comments in the pilot.", 2)
        rate = checks.require_probability(entry["planning_rate"], f"{where}, planning_rate", 2)
        if pilot_items[name] < MIN_PILOT_ITEMS and rate != 0.5:
            raise Incorrect(f"{where}, the pilot has fewer than MIN_PILOT_ITEMS comments, too few to plan with: use "
                            f"the safe planning rate 0.5.", 2)
        required = checks.require_whole_number(entry["required_n"], f"{where}, required_n", 1, 2)
        if required not in (required_sample_size(rate), required_sample_size(rate, z=1.96)):
            raise Incorrect(f"{where}, required_n does not follow from your planning_rate: it is "
                            f"ceil(z² p (1 - p) / E²) with E = MARGIN.", 2)
        rare = checks.require_probability(entry["rare_share"], f"{where}, rare_share", 2)
        if not 0 < rare <= RARE_SHARE_FLOOR + 1e-12:
            raise Incorrect(f"{where}, rare_share is the share you plan the rarest label at. A 300-comment pilot "
                            f"cannot estimate a rare label's share on one surface; plan at RARE_SHARE_FLOOR (or "
                            f"lower, to be safer).", 2)
        positives = checks.require_whole_number(entry["positives_n"], f"{where}, positives_n", 1, 2)
        if positives != items_for_positives(rare):
            raise Incorrect(f"{where}, positives_n does not follow from your rare_share: it is the number of items "
                            f"that yields MIN_POSITIVES of that label about 95 times in 100 (items_for_positives).", 2)
        natural = checks.require_whole_number(entry["natural_n"], f"{where}, natural_n", 0, 2)
        if natural != round(BASE_ITEMS * TRAFFIC_SHARE[name]):
            raise Incorrect(f"{where}, natural_n is the number of that surface's comments among BASE_ITEMS drawn in "
                            f"proportion to TRAFFIC_SHARE.", 2)
        n_items = checks.require_whole_number(entry["n_items"], f"{where}, n_items", 1, 2)
        if n_items != max(natural, required, positives):
            raise Incorrect(f"{where}, n_items should be the largest of the three needs: every comment of the random "
                            f"draw, required_n and positives_n. Fewer leaves a need unmet; more spends budget that "
                            f"buys nothing the plan promises.", 2)
        if checks.require_whole_number(entry["augmented_n"], f"{where}, augmented_n", 0, 2) != n_items - natural:
            raise Incorrect(f"{where}, augmented_n should be the extra comments beyond the random draw: "
                            f"n_items - natural_n.", 2)
    needs_more = [name for name in TRAFFIC_SHARE if slices[name]["augmented_n"] > 0]
    augmentation = checks.require_mapping(plan["augmentation"], needs_more, "collection_plan['augmentation']", 2)
    for name in needs_more:
        entry = checks.require_mapping(augmentation[name], ["extra_items", "method"],
                                       f"collection_plan['augmentation'][{name!r}]", 2)
        extra = checks.require_whole_number(entry["extra_items"],
                                            f"collection_plan['augmentation'][{name!r}]['extra_items']", 1, 2)
        if extra != slices[name]["augmented_n"]:
            raise Incorrect(f"collection_plan['augmentation'][{name!r}]['extra_items'] should match that surface's "
                            f"augmented_n.", 2)
        _require_text(entry["method"], f"collection_plan['augmentation'][{name!r}]['method']", 2, min_words=5)


def _plan_budget(plan: Mapping) -> None:
    budget = checks.require_mapping(plan["budget"], BUDGET_FIELDS, "collection_plan['budget']", 3)
    values = {field: checks.require_number(budget[field], f"collection_plan['budget'][{field!r}]", 0, None, 3)
              for field in BUDGET_FIELDS}
    items = sum(entry["n_items"] for entry in plan["slices"].values())
    share, raters = plan["overlap"]["share"], plan["overlap"]["raters_per_item"]
    expected_share = plan["adjudication"]["expected_share"]
    rules = (
        ("items", values["items"] == items, "the sum of n_items over the surfaces"),
        ("overlap_items", abs(values["overlap_items"] - share * values["items"]) <= 1,
         "overlap share x items (rounded)"),
        ("labels", values["labels"] == values["items"] + values["overlap_items"] * (raters - 1),
         "one label per item, plus (raters_per_item - 1) more on each overlap item"),
        ("adjudicated_items", abs(values["adjudicated_items"] - values["overlap_items"] * expected_share) <= 1,
         "overlap items x adjudication expected_share (rounded): only overlap items can disagree"),
        ("labelling_cost", abs(values["labelling_cost"] - values["labels"] * COST_PER_LABEL) <= 0.5,
         "labels x COST_PER_LABEL"),
        ("adjudication_cost", abs(values["adjudication_cost"] - values["adjudicated_items"] * ADJUDICATION_COST) <= 0.5,
         "adjudicated_items x ADJUDICATION_COST"),
        ("total", abs(values["total"] - values["labelling_cost"] - values["adjudication_cost"]) <= 0.5,
         "labelling_cost + adjudication_cost"),
    )
    for field, holds, rule in rules:
        if not holds:
            raise Incorrect(f"collection_plan['budget'][{field!r}] does not add up: it should be {rule}.", 3)
    if values["total"] > BUDGET_CAP:
        raise Incorrect("The plan costs more than BUDGET_CAP. Lower the overlap share or the raters per overlap "
                        "item, and say in the plan what that costs you.", 3)


def _plan_structure(answer: Any, data: DataSource) -> None:
    plan = checks.require_mapping(answer, PLAN_KEYS, "collection_plan", 1)
    _plan_nonempty(plan)
    _plan_taxonomy_and_examples(plan)
    _plan_process(plan, _raters(data))
    _plan_slices(plan, data)
    _plan_budget(plan)


def _plan_compare(answer: dict, expected: dict) -> None:
    """Only the pilot's facts are compared; the plan's own choices (overlap, adjudicator...) are the learner's."""
    pair = set(expected["confused_pair"])
    if set(answer["confused_pair"]) != pair:
        raise Incorrect("collection_plan['confused_pair'] is not the pair the pilot's raters confused (exercise 5).", 1)
    covered = [example["label"] for example in answer["guideline_examples"]]
    if any(covered.count(label) < MIN_EXAMPLES_PER_PAIR_LABEL for label in pair):
        raise Incorrect("The guideline examples should settle the confused pair: give at least two examples labelled "
                        "with each of its two labels.", 1)
    if set(answer["rater_quality"]["flagged_raters"]) != set(expected["rater_quality"]["flagged_raters"]):
        raise Incorrect("rater_quality['flagged_raters'] should name the raters the pre-registered rule excluded "
                        "(exercise 5), and only them.", 1)
    for name, entry in expected["slices"].items():
        p, reference = float(answer["slices"][name]["planning_rate"]), float(entry["planning_rate"])
        # The pilot's share, or anything between it and 0.5 (safer); 1 - p has the same p(1 - p) but is not a share
        # the pilot supports, so it fails however the floats round.
        low, high = sorted((reference, 0.5))
        if not low - PLANNING_RATE_ATOL <= p <= high + PLANNING_RATE_ATOL:
            raise Incorrect(f"The planning_rate of {name!r} is not what the pilot supports. Use the surface's pilot "
                            f"share of comments that need action (a majority of the kept raters chose a label other "
                            f"than 'ok'), or a value between it and 0.5, which is safer.", 2)
    if answer["adjudication"]["expected_share"] < expected["adjudication"]["expected_share"] - 5e-3:
        raise Incorrect("adjudication['expected_share'] is lower than the pilot supports. Plan with the pilot's share "
                        "of items on which the raters you keep were not unanimous (or more).", 3)


def _deploy_collection_plan(answer: dict, seed: int) -> Outcome:
    """Collect the planned comments from a fresh draw of the world: positives per rare label and surface, margins."""
    from aipmlab.datasets import annotation_pilot as simulator

    planned = {name: int(entry["n_items"]) for name, entry in answer["slices"].items()}
    table = simulator.collect(seed, planned)
    met = table["positives"] >= MIN_POSITIVES
    value = float(met.mean())
    hindsight = simulator.items_needed_in_hindsight(seed, MIN_POSITIVES, MARGIN, Z)
    short = table.loc[~met].index.tolist()
    planned_total, needed_total = sum(planned.values()), sum(max(hindsight[s], round(BASE_ITEMS * TRAFFIC_SHARE[s]))
                                                             for s in planned)
    margins = table.groupby(level="surface")["margin_of_error"].first()
    wide = [surface for surface, margin in margins.items() if margin > MARGIN + 1e-12]
    summary = (f"Collected as planned ({planned_total:,} comments), {int(met.sum())} of {len(table)} surface x rare "
               f"label cells reach {MIN_POSITIVES} positives"
               + (f"; short: {', '.join(f'{s}/{l}' for s, l in short[:4])}{' ...' if len(short) > 4 else ''}"
                  if short else "")
               + (f". The share needing action is measured within ±{MARGIN:.0%} on every surface" if not wide
                  else f". The ±{MARGIN:.0%} margin is missed on {', '.join(wide)}")
               + f". In hindsight, {needed_total:,} comments sized on the true mix would meet every cell on average; "
               f"regret: {1 - value:.0%} of cells unmet.")
    return Outcome(f"{planned_total:,} comments", value, 1.0, "share of surface x rare label cells with enough "
                   "positives", True, summary, table)


COLLECTION_PLAN = Exercise(
    key="collection_plan", number=8, title="The data collection plan, checked", points=3,
    expects=f"a dict with keys {', '.join(PLAN_KEYS)}, laid out as in the template above",
    hints=(
        "Start from the template in the markdown above and fill one part at a time; the check names the first "
        "part that is missing, empty or off. Labels and rater ids are spelled as in the data.",
        "Each surface has three needs, and the plan buys the largest. The random draw gives natural_n = "
        "round(BASE_ITEMS x TRAFFIC_SHARE). Measuring the share needing action within ±MARGIN needs required_n "
        "(required_sample_size of the pilot's share, or 0.5 where the pilot is thinner than MIN_PILOT_ITEMS). "
        "Training and measuring recall needs MIN_POSITIVES of every rare label: which share can you defend for "
        "the rarest label on a surface, given 12 or 54 pilot comments? items_for_positives turns it into items.",
        "Budget: items = sum of n_items; overlap_items = round(share x items); labels = items + overlap_items x "
        "(raters_per_item - 1); adjudicated_items = round(overlap_items x expected_share); then multiply by "
        "COST_PER_LABEL and ADJUDICATION_COST and add. The total must stay within BUDGET_CAP: which choice of "
        "overlap buys the monitoring you need at a price that fits?",
    ),
    check_structure=_plan_structure, compare=_plan_compare, deploy=_deploy_collection_plan,
)


MODULE = Module(
    slug="03-data-collection-plan",
    title="Data collection plan",
    purpose="Measure whether raters agree, find why they don't, and plan 50,000 labels with a budget that adds up.",
    minutes=150,
    tables=("annotation_pilot_items", "annotation_pilot_ratings"),
    exercises=(RAW_AGREEMENT, PAIRWISE_KAPPA, AGREEMENT_COEFFICIENTS, KAPPA_PARADOX, DIAGNOSIS, GO_NO_GO,
               GUIDELINE_REVISION, COLLECTION_PLAN),
)
