"""Module 02 — data quality audit of a support-ticket intent classifier: exercise definitions.

Besides the exercises, this file holds the plumbing the notebook and the answer key share, so both
see exactly the same numbers: text normalisation, near-duplicate grouping, and the fixed
text-classification pipeline with its out-of-fold predicted probabilities.
"""

from __future__ import annotations

import copy
import math
import numbers
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from aipmlab.course import Module
from aipmlab.datasets.ticket_vocabulary import CHANNELS, INTENTS
from aipmlab.exercises import checks
from aipmlab.exercises.core import DataSource, Exercise, Incorrect, Outcome, Written

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

FOLDS = 5                      # out-of-fold probabilities come from 5-fold cross-validation
CV_RANDOM_STATE = 0            # fixed fold assignment, so everyone gets the same probabilities
MODEL_C = 5.0                  # inverse regularisation strength of the logistic regression
CONFIDENCE_LEVEL = 0.95        # every interval in this module is a 95% interval
TARGET_ERROR_RATE = 0.04       # the re-labelling plan must bring the training label-error rate to 4% or less
CHECK_MARGIN = 0.01            # the check after the fix pins the error rate down to ± 1 point
READS_PER_HOUR = 60            # an expert re-reads about one ticket a minute
UNDER_REPRESENTED_BELOW = 0.5  # a channel is under-represented below half its production share
SHARE_TOLERANCE = 5e-4         # shares and rates: an answer rounded to 4 decimals passes, 0.1 point off fails

__all__ = [
    "CHANNELS", "CHECK_MARGIN", "CONFIDENCE_LEVEL", "INTENTS", "READS_PER_HOUR", "TARGET_ERROR_RATE",
    "UNDER_REPRESENTED_BELOW", "intent_model",
    "near_duplicate_groups", "normalise_text", "one_word_variants", "out_of_fold_probabilities", "train_intent_model",
]


# --- Plumbing shared by the notebook and the answer key ----------------------------------------

def normalise_text(text: str) -> str:
    """Lower case, punctuation removed, runs of spaces collapsed: 'Hi,  THERE!' -> 'hi there'."""
    return " ".join(re.sub(r"[^\w\s]", "", text.lower()).split())


def one_word_variants(text: str) -> set[str]:
    """The normalised text, and every version of it with one word dropped."""
    words = normalise_text(text).split()
    return {" ".join(words)} | {" ".join(words[:i] + words[i + 1:]) for i in range(len(words))}


def near_duplicate_groups(texts: pd.Series) -> pd.Series:
    """Group number of each text (the position of its group's first text); same index as `texts`.

    Two texts are near duplicates when they become equal once normalised and at most one word is
    dropped from each: that covers changes of case, spacing and punctuation, and one word swapped,
    added or removed. Groups follow chains: if A matches B and B matches C, all three share a group.
    """
    return pd.Series(_group_numbers(tuple(texts)), index=texts.index, name="group")


@lru_cache(maxsize=8)
def _group_numbers(texts: tuple[str, ...]) -> tuple[int, ...]:
    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_with: dict[str, int] = {}
    for position, text in enumerate(texts):
        for variant in one_word_variants(text):
            other = first_with.setdefault(variant, position)
            a, b = root(position), root(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return tuple(root(i) for i in range(len(texts)))


def intent_model() -> Pipeline:
    """The team's intent classifier, untrained: TF-IDF of words and word pairs, then logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                         LogisticRegression(C=MODEL_C, solver="newton-cg", max_iter=1000))


def train_intent_model(texts: pd.Series, labels: pd.Series) -> Pipeline:
    """The intent classifier trained on `texts` and their `labels` (a fresh copy on every call)."""
    return copy.deepcopy(_trained_model(tuple(texts), tuple(labels)))


@lru_cache(maxsize=4)
def _trained_model(texts: tuple[str, ...], labels: tuple[str, ...]) -> Pipeline:
    with threadpool_limits(1):  # one thread: faster on problems this small, and steady on a busy machine
        return intent_model().fit(list(texts), list(labels))


def out_of_fold_probabilities(tickets: pd.DataFrame) -> pd.DataFrame:
    """Predicted probability of each intent for each ticket, from a model that never saw that ticket.

    Five-fold cross-validation, stratified by label; near duplicates always share a fold, so no
    ticket is scored by a model trained on its own copy. Rows follow `tickets` (indexed by
    ticket_id), columns are INTENTS.
    """
    return _out_of_fold(tuple(tickets["ticket_id"]), tuple(tickets["text"]), tuple(tickets["label"])).copy()


@lru_cache(maxsize=4)
def _out_of_fold(ticket_ids: tuple[str, ...], texts: tuple[str, ...], labels: tuple[str, ...]) -> pd.DataFrame:
    from sklearn.model_selection import cross_val_predict

    folds = _stratified_group_folds()(n_splits=FOLDS, shuffle=True, random_state=CV_RANDOM_STATE)
    groups = near_duplicate_groups(pd.Series(texts))
    with threadpool_limits(1):
        probabilities = cross_val_predict(intent_model(), list(texts), list(labels), groups=groups, cv=folds,
                                          method="predict_proba")
    return pd.DataFrame(probabilities, index=pd.Index(ticket_ids, name="ticket_id"), columns=list(INTENTS))


@lru_cache(maxsize=1)
def _stratified_group_folds() -> type:
    """scikit-learn's StratifiedGroupKFold, weighing all candidate folds for a group at once: the same folds
    (tests/test_m02_data_quality_audit.py compares them) with five times fewer small numpy calls."""
    from sklearn.model_selection import StratifiedGroupKFold

    class StratifiedGroupFolds(StratifiedGroupKFold):
        def _find_best_fold(self, y_counts_per_fold: np.ndarray, y_cnt: np.ndarray,
                            group_y_counts: np.ndarray) -> int:
            n_splits = len(y_counts_per_fold)
            proposed = y_counts_per_fold[None, :, :] + np.eye(n_splits)[:, :, None] * group_y_counts
            evaluations = np.std(proposed / y_cnt.reshape(1, 1, -1), axis=1).mean(axis=1)
            samples = y_counts_per_fold.sum(axis=1)
            best_fold, min_eval, min_samples = None, np.inf, np.inf
            for fold, (evaluation, count) in enumerate(zip(evaluations.tolist(), samples.tolist())):
                close = min_eval != np.inf and abs(evaluation - min_eval) <= 1e-8 + 1e-5 * abs(min_eval)  # np.isclose
                if evaluation < min_eval or (close and count < min_samples):
                    best_fold, min_eval, min_samples = fold, evaluation, count
            return best_fold

    return StratifiedGroupFolds


# --- Helpers for checks --------------------------------------------------------------------------

def _tickets(data: DataSource) -> pd.DataFrame:
    return data.load("support_tickets")


def _train(data: DataSource) -> pd.DataFrame:
    tickets = _tickets(data)
    return tickets[tickets["split"] == "train"]


def _check_interval(answer: dict, rate: str, low: str, high: str, name: str, hint: int) -> None:
    values = {key: checks.require_probability(answer[key], f"{name}[{key!r}]", hint) for key in (rate, low, high)}
    if not values[low] - 1e-9 <= values[rate] <= values[high] + 1e-9:
        raise Incorrect(f"In {name}, {rate} should lie inside its interval: {low} ≤ {rate} ≤ {high}.", hint)


# --- Exercise 1 --------------------------------------------------------------------------------

DUPLICATE_KEYS = ("exact", "formatting", "small_edit", "distinct")


def _duplicates_structure(answer: Any, data: DataSource) -> None:
    checks.require_mapping(answer, DUPLICATE_KEYS, "duplicate_counts", 1)
    counts = {key: checks.require_whole_number(answer[key], f"duplicate_counts[{key!r}]", hint=1)
              for key in DUPLICATE_KEYS}
    if sum(counts.values()) != len(_tickets(data)):
        raise Incorrect("The four numbers should add up to the number of tickets: every ticket is either the first "
                        "of its group (counted once in 'distinct') or an extra copy of exactly one kind. Count "
                        "extra copies, not every member of a group.", 1)


def _duplicates_compare(answer: dict, expected: dict) -> None:
    checks.compare_values(answer, expected, {
        "exact": ("'exact' is off: it counts extra copies whose text is identical, character for character, to "
                  "an earlier ticket's, over the whole table.", 1),
        "formatting": ("'formatting' is off: it counts the extra copies that appear only once texts are "
                       "normalised (case, spaces, punctuation), on top of the exact ones.", 2),
        "small_edit": ("'small_edit' is off: it counts the extra copies that appear only once one-word edits are "
                       "allowed as well, on top of the formatting ones.", 3),
        "distinct": ("'distinct' is off: it is the number of near-duplicate groups.", 3),
    }, atol=0.5)


DUPLICATE_COUNTS = Exercise(
    key="duplicate_counts", number=1, title="How many tickets are copies?", points=2,
    expects="a dict with whole numbers for 'exact', 'formatting', 'small_edit' and 'distinct'",
    hints=(
        "Work on the whole table, train and test together: a copy across the split is the one that hurts most. "
        "A group of three identical tickets is one original and two extra copies; count the extras, which is "
        "the number of tickets minus the number of different texts.",
        "Each looser rule merges more tickets. Count the different texts under each rule in turn (as typed, then "
        "normalised with `normalise_text`, then grouped with `near_duplicate_groups`); each level's count is how "
        "many fewer there are than under the rule before, so no copy is counted twice.",
        "'distinct' is what is left after the loosest rule: the number of different near-duplicate groups.",
    ),
    check_structure=_duplicates_structure, compare=_duplicates_compare,
)


# --- Exercise 2 --------------------------------------------------------------------------------

LEAKAGE_KEYS = ("leaked", "leaked_share", "accuracy_reported", "accuracy_unleaked", "accuracy_adjudicated",
                "adjudicated_ci_low", "adjudicated_ci_high")


def _leakage_structure(answer: Any, data: DataSource) -> None:
    checks.require_mapping(answer, LEAKAGE_KEYS, "leakage_effect", 1)
    test_count = int((_tickets(data)["split"] == "test").sum())
    leaked = checks.require_whole_number(answer["leaked"], "leakage_effect['leaked']", hint=1)
    if leaked > test_count:
        raise Incorrect("leakage_effect['leaked'] counts test tickets, so it cannot exceed the size of the test "
                        "split.", 1)
    for key in ("leaked_share", "accuracy_reported", "accuracy_unleaked"):
        checks.require_probability(answer[key], f"leakage_effect[{key!r}]", 2)
    if abs(float(answer["leaked_share"]) - leaked / test_count) > 1e-3:
        raise Incorrect("leaked_share should be the leaked test tickets as a share of all test tickets.", 1)
    _check_interval(answer, "accuracy_adjudicated", "adjudicated_ci_low", "adjudicated_ci_high", "leakage_effect", 3)


def _leakage_compare(answer: dict, expected: dict) -> None:
    checks.compare_values(answer, expected, {
        "leaked": ("'leaked' is off. A test ticket leaks when its near-duplicate group also holds a training "
                   "ticket: exact copies and near copies both count.", 1),
    }, atol=0.5)
    checks.compare_values(answer, expected, {
        "accuracy_reported": ("'accuracy_reported' is off: it is the share of all test tickets whose predicted "
                              "intent equals their label, for the model trained on the training split only.", 2),
        "accuracy_unleaked": ("'accuracy_unleaked' is off: the same accuracy, on the test tickets that do not "
                              "leak.", 2),
        "accuracy_adjudicated": ("'accuracy_adjudicated' is off: on the test tickets that do not leak, the share "
                                 "whose predicted intent equals the *expert's* label (audit_label).", 3),
        "adjudicated_ci_low": ("The interval around 'accuracy_adjudicated' is off: a 95% Wilson interval on the "
                               "unleaked test tickets.", 3),
        "adjudicated_ci_high": ("The interval around 'accuracy_adjudicated' is off: a 95% Wilson interval on the "
                                "unleaked test tickets.", 3),
    }, atol=SHARE_TOLERANCE)


LEAKAGE_EFFECT = Exercise(
    key="leakage_effect", number=2, title="Leakage, wrong test labels and the honest accuracy", points=3,
    expects="a dict with 'leaked' (a count), 'leaked_share', 'accuracy_reported', 'accuracy_unleaked', "
            "'accuracy_adjudicated', 'adjudicated_ci_low' and 'adjudicated_ci_high' (shares)",
    hints=(
        "Put the group of each ticket in a column. Which groups hold at least one training ticket? A test ticket "
        "leaks when its group is one of them.",
        "Accuracy is the share of test tickets whose prediction equals their label. Compute it on every test "
        "ticket (what the team reported), then on the test tickets that do not leak.",
        "For the honest number, swap the first-pass label for the expert's: join `audit` on ticket_id, keep the "
        "unleaked test tickets, and compare the prediction with `audit_label`. Its interval is a Wilson interval "
        "on that many tickets (`proportion_confint(..., method='wilson')`).",
    ),
    check_structure=_leakage_structure, compare=_leakage_compare,
)


# --- Exercise 3 --------------------------------------------------------------------------------

def _joint_structure(answer: Any, data: DataSource) -> None:
    frame = checks.require_frame(answer, "confident_joint", "given_label", INTENTS, INTENTS, 1)
    extra = [column for column in frame.columns if column not in INTENTS]
    if extra:
        raise Incorrect(f"confident_joint should have one column per intent and no others; remove "
                        f"{', '.join(f'`{c}`' for c in extra)}.", 2)
    checks.require_numeric_columns(frame, "confident_joint", INTENTS, 0, None, hint=2)
    values = frame[list(INTENTS)].to_numpy(dtype=float)
    if not np.allclose(values, np.round(values)):
        raise Incorrect("confident_joint counts tickets, so every cell should be a whole number. (A calibrated "
                        "joint, rescaled to the label counts, is a later step; this exercise wants raw counts.)", 2)
    train = _train(data)
    if values.sum() > len(train):
        raise Incorrect("confident_joint counts each training ticket at most once, so its cells cannot add up to "
                        "more than the number of training tickets.", 2)
    label_counts = train["label"].value_counts().reindex(list(INTENTS), fill_value=0).to_numpy()
    if np.abs(values.sum(axis=1) - label_counts).max() <= len(INTENTS) / 2:
        raise Incorrect("Each row of confident_joint adds up to all the training tickets with that label, so every "
                        "ticket was counted (or the counts were rescaled). A ticket counts only when at least one "
                        "intent's probability reaches that intent's threshold; the others are left out.", 2)


def _joint_compare(answer: Any, expected: Any) -> None:
    answer_values = answer.loc[list(INTENTS), list(INTENTS)].to_numpy(dtype=float)
    expected_values = expected.loc[list(INTENTS), list(INTENTS)].to_numpy(dtype=float)
    if np.allclose(answer_values, expected_values.T) and not np.allclose(answer_values, expected_values):
        raise Incorrect("confident_joint looks transposed: rows are the given label, columns the class the "
                        "ticket confidently belongs to.", 2)
    if not np.allclose(np.diag(answer_values), np.diag(expected_values)):
        raise Incorrect("The diagonal of confident_joint is off. Check the thresholds: t_j is the mean predicted "
                        "probability of intent j over the tickets *labelled* j, from the out-of-fold "
                        "probabilities.", 1)
    checks.compare_columns(answer, expected, "confident_joint", {intent: 2 for intent in INTENTS}, atol=0.5)


CONFIDENT_JOINT = Exercise(
    key="confident_joint", number=3, title="The confident joint", points=3,
    expects="a DataFrame indexed by `given_label` with one column per intent, holding counts of training tickets",
    hints=(
        "Thresholds first: for each intent j, t_j is how sure the model usually is when the label says j, that "
        "is the mean of `probs[j]` over the training tickets *labelled* j (not over all tickets). Easy intents "
        "get a high bar, confusable ones a lower one.",
        "A ticket confidently belongs to intent j when its probability for j is at least t_j. If several intents "
        "pass, keep the one with the largest probability; if none pass, the ticket is not counted. Then count "
        "tickets per (given label, confident intent): `pd.crosstab(...)`, reindexed so every intent appears as a "
        "row and a column.",
    ),
    check_structure=_joint_structure, compare=_joint_compare,
)


# --- Exercise 4 --------------------------------------------------------------------------------

ISSUE_COLUMNS = ("given_label", "suggested_label", "self_confidence")


def _issues_structure(answer: Any, data: DataSource) -> None:
    if not isinstance(answer, pd.DataFrame):
        raise Incorrect(f"label_issues should be a DataFrame, but it is {checks.type_name(answer)}.", 1)
    if answer.index.name != "ticket_id":
        where = "it is a column; use `.set_index('ticket_id')`" if "ticket_id" in answer.columns else (
            f"its index is named {answer.index.name!r}")
        raise Incorrect(f"label_issues should be indexed by `ticket_id` ({where}).", 1)
    missing = [column for column in ISSUE_COLUMNS if column not in answer.columns]
    if missing:
        raise Incorrect(f"label_issues is missing the column(s) {', '.join(f'`{c}`' for c in missing)}.", 1)
    if len(answer) == 0:
        raise Incorrect("label_issues is empty. With out-of-fold probabilities some training tickets sit off the "
                        "diagonal of the confident joint; a model that scores the tickets it was trained on has "
                        "learnt their labels, wrong ones included, and flags none.", 1)
    ids = [str(ticket) for ticket in answer.index]
    if len(set(ids)) != len(ids):
        raise Incorrect("label_issues lists a ticket more than once.", 1)
    given = _train(data).set_index("ticket_id")["label"]
    unknown = [ticket for ticket in ids if ticket not in given.index]
    if unknown:
        raise Incorrect(f"label_issues holds ticket(s) that are not in the training split, e.g. {unknown[0]!r}. "
                        f"Confident learning runs on the training tickets only.", 1)
    if [str(label) for label in answer["given_label"]] != [given[ticket] for ticket in ids]:
        raise Incorrect("`given_label` should be each ticket's label exactly as it is in the data.", 1)
    checks.require_labels(sorted(set(map(str, answer["suggested_label"]))), INTENTS, "`suggested_label`", 1)
    if (answer["suggested_label"].astype(str).to_numpy() == answer["given_label"].astype(str).to_numpy()).any():
        raise Incorrect("A flagged ticket's suggested label differs from its given label: that is why it is "
                        "flagged.", 1)
    checks.require_numeric_columns(answer, "label_issues", ["self_confidence"], 0.0, 1.0, hint=2)
    if (np.diff(answer["self_confidence"].to_numpy(dtype=float)) < -1e-12).any():
        raise Incorrect("Rank label_issues by `self_confidence`, lowest first: the ticket the model believes "
                        "least should be re-checked first.", 2)


def _issues_compare(answer: Any, expected: Any) -> None:
    answer_ids, expected_ids = set(map(str, answer.index)), set(map(str, expected.index))
    if expected_ids - answer_ids:
        raise Incorrect(f"label_issues misses {len(expected_ids - answer_ids)} ticket(s) that sit off the diagonal "
                        f"of the confident joint.", 1)
    if answer_ids - expected_ids:
        raise Incorrect(f"label_issues holds {len(answer_ids - expected_ids)} ticket(s) it should not. Keep exactly "
                        f"the tickets off the diagonal of the confident joint: a ticket with no confident intent is "
                        f"not flagged, whatever the model's top guess.", 1)
    order = [str(ticket) for ticket in expected.index]
    aligned = answer.set_axis(list(map(str, answer.index))).loc[order]
    if list(aligned["suggested_label"].astype(str)) != list(expected["suggested_label"].astype(str)):
        raise Incorrect("`suggested_label` is off for some tickets: it is the intent the ticket confidently "
                        "belongs to (its column in the confident joint).", 1)
    if not np.allclose(aligned["self_confidence"].to_numpy(dtype=float),
                       expected["self_confidence"].to_numpy(dtype=float), atol=5e-4):
        raise Incorrect("`self_confidence` is off: it is the out-of-fold probability of the ticket's *given* "
                        "label, not of its top intent.", 2)


LABEL_ISSUES = Exercise(
    key="label_issues", number=4, title="Which labels are likely wrong?", points=2,
    expects="a DataFrame indexed by `ticket_id` with columns given_label, suggested_label, self_confidence, "
            "lowest self_confidence first",
    hints=(
        "Flag the training tickets you counted off the diagonal of the confident joint: those whose confident "
        "intent is not their given label. A ticket with no confident intent is not flagged, whatever the "
        "model's top guess. suggested_label is that confident intent.",
        "Which ticket should an expert read first? The one whose label the model believes least: rank by the "
        "out-of-fold probability of the *given* label, lowest first.",
    ),
    check_structure=_issues_structure, compare=_issues_compare,
)


# --- Exercise 5 --------------------------------------------------------------------------------

AUDIT_KEYS = ("error_rate", "error_ci_low", "error_ci_high", "flagged_audited", "flagged_precision",
              "precision_ci_low", "precision_ci_high")


def _audited_training_count(data: DataSource) -> int:
    audited = data.load("support_tickets_audit")["ticket_id"]
    return int(_train(data)["ticket_id"].isin(audited).sum())


def _audit_structure(answer: Any, data: DataSource) -> None:
    checks.require_mapping(answer, AUDIT_KEYS, "audit_estimates", 1)
    audited = _audited_training_count(data)
    flagged = checks.require_whole_number(answer["flagged_audited"], "audit_estimates['flagged_audited']", hint=2)
    if flagged > audited:
        raise Incorrect("audit_estimates['flagged_audited'] counts flagged tickets *in the audit sample of "
                        "training tickets*, so it cannot exceed the size of that sample.", 2)
    _check_interval(answer, "error_rate", "error_ci_low", "error_ci_high", "audit_estimates", 1)
    _check_interval(answer, "flagged_precision", "precision_ci_low", "precision_ci_high", "audit_estimates", 2)


def _audit_compare(answer: dict, expected: dict) -> None:
    checks.compare_values(answer, expected, {
        "error_rate": ("'error_rate' is off: it is the share of the audited *training* tickets whose expert "
                       "label differs from the given label (the test tickets were all adjudicated, not sampled).", 1),
        "error_ci_low": ("The interval around 'error_rate' is off. Use a 95% Wilson interval "
                         "(method='wilson').", 1),
        "error_ci_high": ("The interval around 'error_rate' is off. Use a 95% Wilson interval "
                          "(method='wilson').", 1),
        "flagged_audited": ("'flagged_audited' is off: count the flagged tickets that are also in the audit "
                            "sample.", 2),
        "flagged_precision": ("'flagged_precision' is off: among flagged tickets that were audited, the share "
                              "whose expert label differs from the given label.", 2),
        "precision_ci_low": ("The interval around 'flagged_precision' is off. On a few dozen tickets the Wilson "
                             "and normal intervals differ: use method='wilson', 95%.", 2),
        "precision_ci_high": ("The interval around 'flagged_precision' is off. On a few dozen tickets the Wilson "
                              "and normal intervals differ: use method='wilson', 95%.", 2),
    })


AUDIT_ESTIMATES = Exercise(
    key="audit_estimates", number=5, title="What the expert audit says", points=3,
    expects=f"a dict with keys {', '.join(repr(k) for k in AUDIT_KEYS)}",
    hints=(
        "Join the audit to the tickets on ticket_id and keep the training tickets: those 400 were drawn at random. "
        "A label is wrong when `audit_label != label`. Why may that share stand for the whole training split, and "
        "how sure can 400 tickets make you? `proportion_confint(wrong, audited, alpha=0.05, method='wilson')`.",
        "Precision of the flagged set: keep the audited tickets that are in `label_issues.index`; "
        "flagged_audited is how many there are, flagged_precision the share of them whose label is wrong, with "
        "its own Wilson interval.",
    ),
    check_structure=_audit_structure, compare=_audit_compare,
)


# --- Exercise 6 --------------------------------------------------------------------------------

PLAN_KEYS = ("queue_recall", "rate_after_queue", "plan", "n_check")
PLANS = ("queue", "all")


def cochran_sample_size(rate: float, margin: float, population: int, level: float = CONFIDENCE_LEVEL) -> int:
    """Tickets to sample to estimate `rate` to ± `margin`, with the finite-population correction (Cochran, 1977)."""
    from scipy.stats import norm

    z = norm.ppf(1 - (1 - level) / 2)
    n0 = z ** 2 * rate * (1 - rate) / margin ** 2
    return math.ceil(n0 / (1 + (n0 - 1) / population))


def _plan_structure(answer: Any, data: DataSource) -> None:
    checks.require_mapping(answer, PLAN_KEYS, "relabel_plan", 1)
    recall = checks.require_probability(answer["queue_recall"], "relabel_plan['queue_recall']", 1)
    after = checks.require_probability(answer["rate_after_queue"], "relabel_plan['rate_after_queue']", 2)
    if answer["plan"] not in PLANS:
        raise Incorrect("relabel_plan['plan'] should be the text 'queue' (re-label the flagged tickets) or 'all' "
                        "(re-label every training ticket).", 2)
    train_count = len(_train(data))
    checks.require_whole_number(answer["n_check"], "relabel_plan['n_check']", low=1, hint=3)
    if int(answer["n_check"]) > train_count:
        raise Incorrect("relabel_plan['n_check'] is a sample of the training tickets, so it cannot exceed their "
                        "number.", 3)
    if recall == 1.0 and after > 0:
        raise Incorrect("If the queue held every wrong label (recall 1), nothing would be left after it.", 2)


def _plan_compare(answer: dict, expected: dict) -> None:
    checks.compare_values(answer, expected, {
        "queue_recall": ("'queue_recall' is off: among the audited training tickets whose label is wrong, the "
                         "share that the queue flagged. (Precision divides by the flagged tickets; recall by the "
                         "wrong ones.)", 1),
        "rate_after_queue": ("'rate_after_queue' is off: the labels the queue misses stay wrong, so the rate left "
                             "is today's error rate times the share the queue misses.", 2),
    }, atol=SHARE_TOLERANCE)
    if answer["plan"] != expected["plan"]:
        raise Incorrect("'plan' does not follow from your numbers: re-label the queue when the rate it leaves is "
                        "at or below TARGET_ERROR_RATE, and everything otherwise.", 2)
    checks.compare_values(answer, expected, {
        "n_check": ("'n_check' is off: plan at p = TARGET_ERROR_RATE with margin CHECK_MARGIN, apply the "
                    "finite-population correction for the training split to the unrounded n0, and round up only "
                    "at the end.", 3),
    }, atol=0.5)


def deploy_relabel_plan(answer: Any, seed: int) -> Outcome:
    """Run the plan on a fresh export from the same world: the labels left wrong, the expert reads, the regret."""
    from aipmlab import answer_key
    from aipmlab.datasets import support_tickets  # the simulator: absent from a take-home bundle

    key = answer_key.load("m02_data_quality_audit")
    if key is None:
        raise ModuleNotFoundError("deploying needs the answer key's confident learning")
    tables, truth = support_tickets.fresh_draw(seed)
    is_train = (tables["support_tickets"]["split"] == "train").to_numpy()
    train = tables["support_tickets"][is_train]
    wrong = truth.label_flipped[is_train]
    flagged = train["ticket_id"].isin(key.flagged_ticket_ids(train)).to_numpy()
    train_count = len(train)
    left = {"queue": float((wrong & ~flagged).mean()), "all": support_tickets.EXPERT_ERROR_RATE}
    reads = {"queue": int(flagged.sum()), "all": train_count}
    # A plan that misses the target has to be followed by a full pass before the data can be used.
    cost = {plan: reads[plan] + (0 if left[plan] <= TARGET_ERROR_RATE else train_count) for plan in PLANS}
    plan = answer["plan"]
    best = min(PLANS, key=lambda p: (cost[p], p != plan))
    verdict = "meets" if left[plan] <= TARGET_ERROR_RATE else "misses"
    hours = (cost[plan] - cost[best]) / READS_PER_HOUR
    summary = (f"On a fresh export of {train_count:,} training tickets from the same helpdesk, {wrong.mean():.1%} "
               f"of labels were wrong. Re-labelling the flagged queue ({reads['queue']} tickets) would leave "
               f"{left['queue']:.1%} wrong; re-labelling everything about {left['all']:.1%}. Your plan "
               f"('{plan}') {verdict} the {TARGET_ERROR_RATE:.0%} target and costs {cost[plan]:,} expert reads"
               + ("" if verdict == "meets" else " (a full pass has to follow)")
               + f"; the best plan in hindsight ('{best}') costs {cost[best]:,}, so the regret is "
               f"{cost[plan] - cost[best]:,} reads, about {hours:.0f} expert hours.")
    table = pd.DataFrame({"expert_reads": reads, "labels_left_wrong": left,
                          "meets_target": {p: left[p] <= TARGET_ERROR_RATE for p in PLANS},
                          "cost_in_reads": cost}).rename_axis("plan")
    return Outcome(decision=f"re-label '{plan}'", value=float(cost[plan]), best_value=float(cost[best]),
                   unit="expert reads", higher_is_better=False, summary=summary, table=table)


RELABEL_PLAN = Exercise(
    key="relabel_plan", number=6, title="The re-labelling plan", points=3,
    expects="a dict with 'queue_recall' and 'rate_after_queue' (shares), 'plan' ('queue' or 'all') and a whole "
            "number 'n_check'",
    hints=(
        "The audit is random, so it shows you the wrong labels the queue *misses* as well as the ones it finds. "
        "Among the audited training tickets whose label is wrong, what share did the queue flag? That is the "
        "queue's recall.",
        "The wrong labels the queue misses stay wrong after an expert re-reads the queue. What error rate does "
        "that leave, and is it under TARGET_ERROR_RATE? If it is, the queue is enough; if not, only a full pass "
        "gets you there.",
        "The check after the fix is a fresh random sample of training tickets. Size it with n0 = z² p (1 − p) / E² "
        "at p = TARGET_ERROR_RATE and E = CHECK_MARGIN. The training split is not much bigger than n0, so apply "
        "the finite-population correction n = n0 / (1 + (n0 − 1) / N), N the number of training tickets, to "
        "the unrounded n0, and round up only at the end.",
    ),
    check_structure=_plan_structure, compare=_plan_compare, deploy=deploy_relabel_plan,
)


# --- Exercise 7 --------------------------------------------------------------------------------

MIX_COLUMNS = ("train_share", "production_share", "ratio", "under_represented")


def _mix_structure(answer: Any, data: DataSource) -> None:
    frame = checks.require_frame(answer, "slice_mix", "channel", CHANNELS, MIX_COLUMNS, 1)
    checks.require_numeric_columns(frame, "slice_mix", ["train_share", "production_share"], 0.0, 1.0, hint=1)
    checks.require_numeric_columns(frame, "slice_mix", ["ratio"], 0.0, None, hint=1)
    if abs(float(frame["train_share"].sum()) - 1.0) > 1e-3:
        raise Incorrect("`train_share` should add up to 1 over the channels: each is a channel's share of the "
                        "training tickets.", 1)
    flags = list(frame["under_represented"])
    if not all(isinstance(flag, (bool, np.bool_)) or (isinstance(flag, numbers.Real) and flag in (0, 1))
               for flag in flags):
        raise Incorrect("`under_represented` should hold True or False for each channel.", 2)


def _mix_compare(answer: Any, expected: Any) -> None:
    checks.compare_columns(answer, expected[["train_share", "production_share"]], "slice_mix",
                           {"train_share": 1, "production_share": 1})
    if not np.allclose(answer.loc[list(expected.index), "ratio"].astype(float),
                       expected["ratio"].astype(float), atol=5e-4):
        raise Incorrect("`ratio` is off: it is train_share divided by production_share (1 means the training "
                        "data has the channel in the same proportion as production).", 1)
    checks.compare_columns(answer, expected[["under_represented"]], "slice_mix", {"under_represented": 2})


SLICE_MIX = Exercise(
    key="slice_mix", number=7, title="Does the training data look like production?", points=2,
    expects="a DataFrame indexed by `channel` with columns train_share, production_share, ratio, under_represented",
    hints=(
        "train_share is each channel's share of the tickets in the *training* split (the data the model learns "
        "from), production_share comes from the production mix table, and ratio = train_share / "
        "production_share: 1 means the same proportion as production.",
        "A channel is under-represented when its training share is below UNDER_REPRESENTED_BELOW (one half) of "
        "its production share, that is when ratio < UNDER_REPRESENTED_BELOW.",
    ),
    check_structure=_mix_structure, compare=_mix_compare,
)


# --- Exercises 8 and 9: written answers -------------------------------------------------------

FIGURE = re.compile(r"(?<![\w.])(\d[\d,]*(?:\.\d+)?)\s*(%?)")


def _own_figures(data: DataSource) -> tuple[set[int], set[float]]:
    """Counts and percentages a learner's own audit produces (not the sizes the notebook states)."""
    return _own_figures_for_seed(data.seed)


@lru_cache(maxsize=4)
def _own_figures_for_seed(seed: int | None) -> tuple[set[int], set[float]]:
    data = DataSource(seed)
    tickets = _tickets(data)
    group = near_duplicate_groups(tickets["text"])
    split = tickets["split"].to_numpy()
    train_groups = set(group[split == "train"])
    leaked = int((group[split == "test"].isin(train_groups)).sum())
    texts, normalised = tickets["text"].nunique(), tickets["text"].map(normalise_text).nunique()
    counts = {leaked, len(tickets) - texts, texts - normalised, normalised - group.nunique(),
              len(tickets) - group.nunique(), group.nunique(), int((split == "train").sum()),
              int((split == "test").sum())}
    audit = data.load("support_tickets_audit").merge(tickets[split == "train"], on="ticket_id")
    wrong = audit["audit_label"] != audit["label"]
    counts.add(int(wrong.sum()))
    shares = (float(wrong.mean()), leaked / max(1, int((split == "test").sum())))
    percents = {round(100 * share, digits) for share in shares for digits in (0, 1)}
    return counts, percents


def _grounded(answer: str, data: DataSource, name: str, min_sentences: int, min_figures: int) -> None:
    """Written in sentences, and quoting figures that the learner's own data gives: not a keyword list."""
    sentences = [part for part in re.split(r"[.!?;:]\s+|\n\s*\n", answer.strip()) if len(part.split()) >= 5]
    if len(sentences) < min_sentences:
        raise Incorrect(f"{name} should be written in sentences a reviewer can follow: at least {min_sentences} "
                        f"sentences of five words or more.", 1)
    counts, percents = _own_figures(data)
    found = set()
    for number, percent in FIGURE.findall(answer):
        value = float(number.replace(",", ""))
        if (percent and value in percents) or (not percent and value.is_integer() and int(value) in counts):
            found.add((value, percent))
    if len(found) < min_figures:
        raise Incorrect(f"{name} should quote at least {min_figures} figures from your own results (counts of "
                        f"copies or leaked tickets, the audited error rate in %, ...), as your analysis printed "
                        f"them.", 2)


DATASHEET_WRITTEN = Written(
    manual_points=6, min_words=80,
    must_mention=(("duplicate", "leak"), ("label",), ("interval", "margin", "±")),
)


DATASHEET_ENTRIES = Exercise(
    key="datasheet_entries", number=8, title="Write the datasheet entries", points=0,
    expects="your datasheet entries as text in triple quotes",
    hints=(
        "A reviewer reads three entries (Gebru et al.'s datasheet questions): Composition — what is duplicated, "
        "what leaks, how many labels are wrong (with the interval) and where; Collection and labelling — how the "
        "labels were made and how the audit was drawn; Known limits and uses — what the mix of channels means "
        "for how the model will do in production.",
        "Give every claim a number from your analysis, and say how sure you are: the audit is a sample. Say what "
        "the data shows and no more: the confident joint shows where disputes sit, not why.",
    ),
    check_structure=lambda answer, data: _grounded(answer, data, "datasheet_entries", 5, 3),
    written=DATASHEET_WRITTEN,
)


DECISION_WRITTEN = Written(
    manual_points=6, min_words=60,
    must_mention=(("drop", "dedup", "remove", "relabel", "re-label", "fix", "collect"),),
)


NEXT_RUN_DECISION = Exercise(
    key="next_run_decision", number=9, title="What to fix before the next training run", points=0,
    expects="your decision and its reasons as text in triple quotes",
    hints=(
        "Pick what to fix first and say why with a number: what it does to the accuracy the team reports, to "
        "the labels the model learns from, or to the users it will serve. Say what you will not fix yet.",
        "A good decision also says how you will know it worked: which number you will measure after the fix, on "
        "how many tickets, and what result counts as success. Two point estimates differing is not a result; "
        "think about intervals.",
    ),
    check_structure=lambda answer, data: _grounded(answer, data, "next_run_decision", 4, 2),
    written=DECISION_WRITTEN,
)


MODULE = Module(
    slug="02-data-quality-audit",
    title="Data quality audit",
    purpose="Audit the training data of a support-ticket classifier and say, with numbers, whether to trust it.",
    minutes=150,
    tables=("support_tickets", "support_tickets_audit", "support_tickets_production_mix"),
    exercises=(DUPLICATE_COUNTS, LEAKAGE_EFFECT, CONFIDENT_JOINT, LABEL_ISSUES, AUDIT_ESTIMATES, RELABEL_PLAN,
               SLICE_MIX, DATASHEET_ENTRIES, NEXT_RUN_DECISION),
)
