"""Module 03 — a data collection plan from an annotation pilot: exercise definitions."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from aipmlab.course import Module
from aipmlab.exercises import checks
from aipmlab.exercises.core import DataSource, Exercise, Incorrect, Written

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

PLAN_KEYS = ("taxonomy", "guideline_examples", "confused_pair", "rater_quality", "agreement_target", "overlap",
             "adjudication", "precision", "slices", "augmentation", "budget")
SLICE_FIELDS = ("pilot_items", "planning_rate", "required_n", "natural_n", "n_items", "augmented_n")
BUDGET_FIELDS = ("items", "overlap_items", "labels", "adjudicated_items", "labelling_cost", "adjudication_cost",
                 "total")


def _ratings(data: DataSource) -> pd.DataFrame:
    return data.load("annotation_pilot_ratings")


def _raters(data: DataSource) -> list[str]:
    return sorted(_ratings(data)["rater_id"].unique())


def required_sample_size(planning_rate: float, margin: float = MARGIN, z: float = Z) -> int:
    """Items needed to estimate a share near `planning_rate` within ±margin: ceil(z² p(1−p) / E²)."""
    return math.ceil(z**2 * planning_rate * (1 - planning_rate) / margin**2 - 1e-9)


def _require_text(value: Any, name: str, hint: int, min_words: int = 1) -> str:
    if not isinstance(value, str) or len(value.split()) < min_words:
        words = "some text" if min_words == 1 else f"at least {min_words} words of text"
        raise Incorrect(f"{name} should be {words}; it is {checks.type_name(value)!s}"
                        f"{' that is too short' if isinstance(value, str) else ''}.", hint)
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
    })


RAW_AGREEMENT = Exercise(
    key="raw_agreement", number=1, title="Raw agreement, stated precisely", points=1,
    expects="a dict with keys 'mean_pairwise' and 'unanimous_share', both shares between 0 and 1",
    hints=(
        "Work on the wide table `labels` (one row per item, one column per rater). For two raters a and b, "
        "`(labels[a] == labels[b]).mean()` is their agreement. `itertools.combinations(labels.columns, 2)` "
        "lists every pair once; average the pairs' agreements.",
        "An item is unanimous when it has one distinct label across the row: `labels.nunique(axis=1) == 1`. "
        "The share of such items is the mean of that column of True/False.",
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
                           {rater: 2 for rater in raters})


PAIRWISE_KAPPA = Exercise(
    key="pairwise_kappa", number=2, title="Cohen's kappa for every pair of raters", points=2,
    expects="a DataFrame indexed by `rater_id`, with one column per rater, holding Cohen's kappa (1 on the diagonal)",
    hints=(
        "Write `cohen_kappa(a, b)` for two columns of `labels`: p_o is the share of items where they agree; p_e "
        "sums, over the labels, the share of a's labels that are that label times the same share for b. Then "
        "kappa = (p_o - p_e) / (1 - p_e). Fill a rater x rater table with it; name the index `rater_id`.",
        "Each rater keeps their *own* label shares in p_e (that is what makes it Cohen's kappa). Labels are "
        "categories with no order, so no weights. `sklearn.metrics.cohen_kappa_score(a, b)` checks one cell.",
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
    if not checks.numbers_match(answer["fleiss_kappa"], expected["fleiss_kappa"], 5e-4):
        raise Incorrect("fleiss_kappa is off. Use all five raters; P̄ is the mean over items of the share of agreeing "
                        "rater pairs, and P̄_e sums the squared shares of each label over all ratings.", 1)
    if not checks.numbers_match(answer["krippendorff_alpha"], expected["krippendorff_alpha"], 5e-4):
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
    if abs(frame["prevalence"].astype(float).sum() - 1.0) > 1e-6:
        raise Incorrect("The prevalences should add up to 1: each is one label's share of all ratings.", 1)
    po, pe, kappa = (frame[c].astype(float) for c in ("percent_agreement", "expected_agreement", "kappa"))
    if ((kappa - (po - pe) / (1 - pe)).abs() > 1e-6).any():
        raise Incorrect("In each row, kappa should be (percent_agreement - expected_agreement) / "
                        "(1 - expected_agreement).", 2)


def _paradox_compare(answer: Any, expected: Any) -> None:
    checks.compare_columns(answer.loc[list(expected.index)], expected, "kappa_paradox",
                           {"prevalence": 1, "percent_agreement": 2, "expected_agreement": 2, "kappa": 2})


KAPPA_PARADOX = Exercise(
    key="kappa_paradox", number=4, title="The kappa paradox: high agreement, low kappa", points=2,
    expects="a DataFrame indexed by `label` with columns prevalence, percent_agreement, expected_agreement, kappa",
    hints=(
        "For one label, turn every rating into a yes/no question: is it this label? `labels == label` does that. "
        "prevalence is the share of all 1,500 ratings that say yes.",
        "On that yes/no table, compute Fleiss' kappa as in exercise 3, with two categories: yes and no. "
        "percent_agreement is P̄ and expected_agreement is P̄_e = p² + (1 - p)², where p is the prevalence.",
    ),
    check_structure=_paradox_structure, compare=_paradox_compare,
)


# --- Exercise 5 --------------------------------------------------------------------------------

def _diagnosis_structure(answer: Any, data: DataSource) -> None:
    checks.require_mapping(answer, ["outlier_rater", "confusion", "confused_pair"], "diagnosis", 1)
    raters = _raters(data)
    if answer["outlier_rater"] not in raters:
        raise Incorrect(f"diagnosis['outlier_rater'] should be one of the rater ids: {', '.join(raters)}.", 1)
    frame = checks.require_frame(answer["confusion"], "diagnosis['confusion']", "label", LABELS, LABELS, 2)
    checks.require_numeric_columns(frame, "diagnosis['confusion']", LABELS, 0, None, hint=2)
    matrix = frame.loc[list(LABELS), list(LABELS)].to_numpy(dtype=float)
    if not np.allclose(matrix, matrix.T):
        raise Incorrect("diagnosis['confusion'] should be symmetric: count every pair of raters in both orders, "
                        "(a, b) and (b, a).", 2)
    items = _ratings(data)["item_id"].nunique()
    kept = len(raters) - 1
    if abs(matrix.sum() - items * kept * (kept - 1)) > 1e-6:
        raise Incorrect("diagnosis['confusion'] should hold one count per item for every ordered pair of two "
                        "different raters among the raters you keep (all but the outlier).", 2)
    _require_pair(answer["confused_pair"], "diagnosis['confused_pair']", 3)


def _diagnosis_compare(answer: dict, expected: dict) -> None:
    if answer["outlier_rater"] != expected["outlier_rater"]:
        raise Incorrect("outlier_rater is off: it is the rater whose mean kappa with the other raters is lowest.", 1)
    confusion = answer["confusion"].loc[list(LABELS), list(LABELS)].astype(float)
    if not np.allclose(confusion.to_numpy(), expected["confusion"].to_numpy(dtype=float)):
        raise Incorrect("The counts in diagnosis['confusion'] are off. Drop the outlier first, then add, for each "
                        "item and each ordered pair of kept raters, one count to (first's label, second's label).", 2)
    if set(answer["confused_pair"]) != set(expected["confused_pair"]):
        raise Incorrect("confused_pair is off: it is the largest cell of the confusion matrix off the diagonal.", 3)


DIAGNOSIS = Exercise(
    key="diagnosis", number=5, title="Who disagrees, and about what?", points=2,
    expects="a dict {'outlier_rater': rater id, 'confusion': label x label DataFrame, 'confused_pair': [label, label]}",
    hints=(
        "Average each column of pairwise_kappa without its diagonal 1: `(pairwise_kappa.sum() - 1) / (raters - 1)`. "
        "The rater with the lowest mean kappa is the outlier.",
        "Drop the outlier's column from `labels`. For every ordered pair (a, b) of the remaining raters "
        "(`itertools.permutations`), add `pd.crosstab(labels[a], labels[b])` (reindexed to LABELS on both axes, "
        "fill 0) into one total. Index and columns are labels; name the index `label`.",
        "Blank the diagonal (agreements) and take the largest remaining cell: its row and column are the pair.",
    ),
    check_structure=_diagnosis_structure, compare=_diagnosis_compare,
)


# --- Exercise 6 --------------------------------------------------------------------------------

GO_KEYS = ["alpha", "ci_low", "ci_high", "alpha_if_pair_resolved", "decision"]


def decision_rule(ci_low: float, alpha_if_pair_resolved: float) -> str:
    """The go/no-go rule the team wrote before the pilot."""
    if ci_low >= TARGET_ALPHA:
        return "go"
    if alpha_if_pair_resolved >= TARGET_ALPHA:
        return "revise_guideline"
    return "rework_taxonomy"


def _go_structure(answer: Any, data: DataSource) -> None:
    checks.require_mapping(answer, GO_KEYS, "go_no_go", 1)
    values = {k: checks.require_number(answer[k], f"go_no_go[{k!r}]", -1.0, 1.0, 1) for k in GO_KEYS[:4]}
    if not values["ci_low"] <= values["alpha"] <= values["ci_high"]:
        raise Incorrect("A percentile interval should contain its point estimate: ci_low <= alpha <= ci_high.", 2)
    if answer["decision"] not in DECISIONS:
        raise Incorrect(f"go_no_go['decision'] should be one of {', '.join(map(repr, DECISIONS))}.", 3)
    if answer["decision"] != decision_rule(values["ci_low"], values["alpha_if_pair_resolved"]):
        raise Incorrect("The decision does not follow the rule the team wrote before the pilot, applied to your own "
                        "numbers. The rule reads the lower end of the interval, not the point estimate.", 3)


def _go_compare(answer: dict, expected: dict) -> None:
    if not checks.numbers_match(answer["alpha"], expected["alpha"], 5e-4):
        raise Incorrect("alpha is off. It is Krippendorff's alpha of the raters you keep: all but the outlier.", 1)
    for bound in ("ci_low", "ci_high"):
        if not checks.numbers_match(answer[bound], expected[bound], 5e-3):
            raise Incorrect(f"{bound} is off. Resample whole items (rows of the wide table), not single ratings, "
                            f"with the stated generator and number of resamples, and take the 2.5th and 97.5th "
                            f"percentiles.", 2)
    if not checks.numbers_match(answer["alpha_if_pair_resolved"], expected["alpha_if_pair_resolved"], 5e-4):
        raise Incorrect("alpha_if_pair_resolved is off. Keep every item and rater you kept, and relabel one label of "
                        "the confused pair as the other, so that choosing between them no longer counts.", 3)


GO_NO_GO = Exercise(
    key="go_no_go", number=6, title="How sure are we? A go/no-go against a target set in advance", points=3,
    expects="a dict with keys 'alpha', 'ci_low', 'ci_high', 'alpha_if_pair_resolved' (numbers) and 'decision'",
    hints=(
        "Drop the outlier's column from `labels` and compute Krippendorff's alpha of the rest, with your function "
        "from exercise 3.",
        "rng = np.random.default_rng(BOOTSTRAP_SEED). Repeat BOOTSTRAP_RESAMPLES times: rows = "
        "rng.integers(0, n_items, n_items), then alpha of `kept.iloc[rows]`. ci_low and ci_high are "
        "np.percentile(alphas, [2.5, 97.5]).",
        "For the what-if, relabel one label of your confused pair as the other, `kept.replace({first: second})`, "
        "and recompute alpha. Then apply `decision_rule` as written: it reads ci_low, not alpha.",
    ),
    check_structure=_go_structure, compare=_go_compare,
)


# --- Exercise 7 --------------------------------------------------------------------------------

GUIDELINE_WRITTEN = Written(manual_points=3, min_words=60,
                            must_mention=(("spam",), ("off_topic", "off-topic", "off topic")))


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
    written=GUIDELINE_WRITTEN,
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
    examples = plan["guideline_examples"]
    if isinstance(examples, (str, Mapping)) or not isinstance(examples, (list, tuple)) or len(examples) < 4:
        raise Incorrect("collection_plan['guideline_examples'] should be a list of at least four examples.", 1)
    for number, example in enumerate(examples, 1):
        checks.require_mapping(example, ["text", "label", "why"], f"guideline example {number}", 1)
        _require_text(example["text"], f"The text of guideline example {number}", 1)
        _require_text(example["why"], f"The 'why' of guideline example {number}", 1, min_words=3)
        if example["label"] not in LABELS:
            raise Incorrect(f"Guideline example {number} has a label that is not in the taxonomy.", 1)
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
        natural = checks.require_whole_number(entry["natural_n"], f"{where}, natural_n", 0, 2)
        if natural != round(BASE_ITEMS * TRAFFIC_SHARE[name]):
            raise Incorrect(f"{where}, natural_n is the number of that surface's comments among BASE_ITEMS drawn in "
                            f"proportion to TRAFFIC_SHARE.", 2)
        n_items = checks.require_whole_number(entry["n_items"], f"{where}, n_items", 1, 2)
        if n_items < max(natural, required_sample_size(rate)):
            raise Incorrect(f"{where}, n_items is too small: keep every comment of the random draw, and reach "
                            f"required_n.", 2)
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
        raise Incorrect("rater_quality['flagged_raters'] should name the rater the pilot singled out (exercise 5), "
                        "and only that rater.", 1)
    for name, entry in expected["slices"].items():
        p, reference = float(answer["slices"][name]["planning_rate"]), float(entry["planning_rate"])
        if abs(p - reference) > 5e-3 and p * (1 - p) < reference * (1 - reference):
            raise Incorrect(f"The planning_rate of {name!r} is not what the pilot supports. Use the surface's pilot "
                            f"share of comments that need action (a majority of raters chose a label other than "
                            f"'ok'), or a value closer to 0.5, which is safer.", 2)
    if answer["adjudication"]["expected_share"] < expected["adjudication"]["expected_share"] - 5e-3:
        raise Incorrect("adjudication['expected_share'] is lower than the pilot supports. Plan with the pilot's share "
                        "of items on which the raters you keep were not unanimous (or more).", 3)


COLLECTION_PLAN = Exercise(
    key="collection_plan", number=8, title="The data collection plan, checked", points=3,
    expects=f"a dict with keys {', '.join(PLAN_KEYS)}, laid out as in the template above",
    hints=(
        "Start from the template in the markdown above and fill one part at a time; the check names the first "
        "part that is missing, empty or off. Labels and rater ids are spelled as in the data.",
        "For each surface: planning_rate p (the pilot share of comments needing action, or 0.5 if the surface has "
        "fewer than MIN_PILOT_ITEMS pilot comments); required_n = ceil(Z² p (1 - p) / MARGIN²) "
        "(required_sample_size does this); natural_n = round(BASE_ITEMS x TRAFFIC_SHARE); n_items = the larger "
        "of the two; augmented_n = n_items - natural_n.",
        "Budget: items = sum of n_items; overlap_items = round(share x items); labels = items + overlap_items x "
        "(raters_per_item - 1); adjudicated_items = round(overlap_items x expected_share); then multiply by "
        "COST_PER_LABEL and ADJUDICATION_COST and add. The total must stay within BUDGET_CAP.",
    ),
    check_structure=_plan_structure, compare=_plan_compare,
)


MODULE = Module(
    slug="03-data-collection-plan",
    title="Data collection plan",
    purpose="Measure whether raters agree, find why they don't, and plan 50,000 labels with a budget that adds up.",
    minutes=100,
    tables=("annotation_pilot_items", "annotation_pilot_ratings"),
    exercises=(RAW_AGREEMENT, PAIRWISE_KAPPA, AGREEMENT_COEFFICIENTS, KAPPA_PARADOX, DIAGNOSIS, GO_NO_GO,
               GUIDELINE_REVISION, COLLECTION_PLAN),
)
