"""Module 02 — data quality audit of a support-ticket intent classifier: exercise definitions.

Besides the exercises, this file holds the plumbing the notebook and the answer key share, so both
see exactly the same numbers: text normalisation, near-duplicate grouping, and the fixed
text-classification pipeline with its out-of-fold predicted probabilities.
"""

from __future__ import annotations

import copy
import numbers
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from aipmlab.course import Module
from aipmlab.datasets.support_tickets import CHANNELS, INTENTS
from aipmlab.exercises import checks
from aipmlab.exercises.core import DataSource, Exercise, Incorrect, Written

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

FOLDS = 5                      # out-of-fold probabilities come from 5-fold cross-validation
CV_RANDOM_STATE = 0            # fixed fold assignment, so everyone gets the same probabilities
MODEL_C = 5.0                  # inverse regularisation strength of the logistic regression
CONFIDENCE_LEVEL = 0.95        # every interval in this module is a 95% interval
RELABEL_MARGIN = 0.02          # the re-labelling sample must pin the error rate down to ± 2 points
UNDER_REPRESENTED_BELOW = 0.5  # a channel is under-represented below half its production share

__all__ = [
    "CHANNELS", "CONFIDENCE_LEVEL", "INTENTS", "RELABEL_MARGIN", "UNDER_REPRESENTED_BELOW", "intent_model",
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
    return pd.Series([root(i) for i in range(len(texts))], index=texts.index, name="group")


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
    from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict

    folds = StratifiedGroupKFold(n_splits=FOLDS, shuffle=True, random_state=CV_RANDOM_STATE)
    groups = near_duplicate_groups(pd.Series(texts))
    with threadpool_limits(1):
        probabilities = cross_val_predict(intent_model(), list(texts), list(labels), groups=groups, cv=folds,
                                          method="predict_proba")
    return pd.DataFrame(probabilities, index=pd.Index(ticket_ids, name="ticket_id"), columns=list(INTENTS))


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
        "Work on the whole table, train and test together. An extra copy is every ticket of a group except its "
        "first. `tickets['text'].duplicated().sum()` counts the extra exact copies.",
        "Normalising makes more texts equal: `tickets['text'].map(normalise_text).nunique()` is the number of "
        "different texts once case, spaces and punctuation are ignored. 'formatting' is how many fewer that is "
        "than `tickets['text'].nunique()`.",
        "`near_duplicate_groups(tickets['text'])` gives each ticket its group; 'distinct' is the number of "
        "different groups, and 'small_edit' is how many fewer groups there are than normalised texts.",
    ),
    check_structure=_duplicates_structure, compare=_duplicates_compare,
)


# --- Exercise 2 --------------------------------------------------------------------------------

LEAKAGE_KEYS = ("leaked", "leaked_share", "accuracy_reported", "accuracy_unleaked")


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


def _leakage_compare(answer: dict, expected: dict) -> None:
    checks.compare_values(answer, expected, {
        "leaked": ("'leaked' is off. A test ticket leaks when its near-duplicate group also holds a training "
                   "ticket: exact copies and near copies both count.", 1),
        "accuracy_reported": ("'accuracy_reported' is off: it is the share of all test tickets whose predicted "
                              "intent equals their label, for the model trained on the training split only.", 2),
        "accuracy_unleaked": ("'accuracy_unleaked' is off: the same accuracy, on the test tickets that do not "
                              "leak.", 2),
    })


LEAKAGE_EFFECT = Exercise(
    key="leakage_effect", number=2, title="Train/test leakage and the reported accuracy", points=2,
    expects="a dict with 'leaked' (a count), 'leaked_share', 'accuracy_reported' and 'accuracy_unleaked' (shares)",
    hints=(
        "Put the group of each ticket in a column. The groups that hold at least one training ticket are "
        "`set(train['group'])`; a test ticket leaks when `test['group'].isin(...)` that set.",
        "Accuracy is `(test['predicted'] == test['label']).mean()`. Compute it on every test ticket (what the "
        "team reported), then on the test tickets that do not leak.",
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
        "Thresholds first: for each intent j, t_j is the mean of `probs[j]` over the training tickets whose "
        "label is j. With `probs` the out-of-fold probabilities, "
        "`{j: probs.loc[train['label'].to_numpy() == j, j].mean() for j in INTENTS}` does it.",
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
        "intent is not their given label. suggested_label is that confident intent.",
        "self_confidence is the predicted probability of the *given* label. Sort by it, ascending: "
        "`.sort_values('self_confidence')`.",
    ),
    check_structure=_issues_structure, compare=_issues_compare,
)


# --- Exercise 5 --------------------------------------------------------------------------------

AUDIT_KEYS = ("error_rate", "error_ci_low", "error_ci_high", "flagged_audited", "flagged_precision",
              "precision_ci_low", "precision_ci_high")


def _audit_structure(answer: Any, data: DataSource) -> None:
    checks.require_mapping(answer, AUDIT_KEYS, "audit_estimates", 1)
    audited = len(data.load("support_tickets_audit"))
    flagged = checks.require_whole_number(answer["flagged_audited"], "audit_estimates['flagged_audited']", hint=2)
    if flagged > audited:
        raise Incorrect("audit_estimates['flagged_audited'] counts flagged tickets *in the audit sample*, so it "
                        "cannot exceed the size of the audit.", 2)
    _check_interval(answer, "error_rate", "error_ci_low", "error_ci_high", "audit_estimates", 1)
    _check_interval(answer, "flagged_precision", "precision_ci_low", "precision_ci_high", "audit_estimates", 2)


def _audit_compare(answer: dict, expected: dict) -> None:
    checks.compare_values(answer, expected, {
        "error_rate": ("'error_rate' is off: it is the share of *all* audited tickets whose expert label differs "
                       "from the given label.", 1),
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
        "Join the audit to the tickets on ticket_id. A label is wrong when `audit_label != label`. The error "
        "rate is that share over the whole audit sample, because the sample was drawn at random; its interval "
        "is `proportion_confint(wrong, audited, alpha=0.05, method='wilson')`.",
        "Precision of the flagged set: keep the audited tickets that are in `label_issues.index`; "
        "flagged_audited is how many there are, flagged_precision the share of them whose label is wrong, with "
        "its own Wilson interval.",
    ),
    check_structure=_audit_structure, compare=_audit_compare,
)


# --- Exercise 6 --------------------------------------------------------------------------------

SAMPLE_SIZE_KEYS = ("planning_rate", "n_planned", "n_conservative")


def _sample_size_structure(answer: Any, data: DataSource) -> None:
    checks.require_mapping(answer, SAMPLE_SIZE_KEYS, "relabel_sample_size", 1)
    checks.require_probability(answer["planning_rate"], "relabel_sample_size['planning_rate']", 1)
    for key in ("n_planned", "n_conservative"):
        value = checks.require_number(answer[key], f"relabel_sample_size[{key!r}]", 1, None, 2)
        if not float(value).is_integer():
            raise Incorrect(f"relabel_sample_size[{key!r}] is a number of tickets: round it *up* to a whole "
                            f"number (`math.ceil`), so the margin is met.", 2)


def _sample_size_compare(answer: dict, expected: dict) -> None:
    checks.compare_values(answer, expected, {
        "planning_rate": ("'planning_rate' is off: plan with the label-error rate the random audit measured.", 1),
        "n_conservative": ("'n_conservative' is off: use p = 0.5, z for 95% (about 1.96, squared) and the margin "
                           "as a share, RELABEL_MARGIN, then round up.", 2),
        "n_planned": ("'n_planned' is off: same formula as n_conservative, with p = planning_rate.", 2),
    }, atol=0.5)


RELABEL_SAMPLE_SIZE = Exercise(
    key="relabel_sample_size", number=6, title="How many tickets to re-label?", points=2,
    expects="a dict with 'planning_rate' (a share) and whole numbers 'n_planned' and 'n_conservative'",
    hints=(
        "To estimate a rate p to within ± E with 95% confidence you need n = z² p (1 − p) / E² tickets, with "
        "z = `scipy.stats.norm.ppf(0.975)` (about 1.96) and E = RELABEL_MARGIN as a share, not in points.",
        "n_planned uses p = planning_rate (the audit's error rate); n_conservative uses p = 0.5, the value that "
        "makes p (1 − p) largest. Round both up with `math.ceil`.",
    ),
    check_structure=_sample_size_structure, compare=_sample_size_compare,
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
        "train_share is each channel's share of the tickets in the *training* split: "
        "`train['channel'].value_counts(normalize=True)`. production_share comes from the production mix "
        "table. ratio = train_share / production_share.",
        "A channel is under-represented when its training share is below UNDER_REPRESENTED_BELOW (one half) of "
        "its production share, that is when ratio < UNDER_REPRESENTED_BELOW.",
    ),
    check_structure=_mix_structure, compare=_mix_compare,
)


# --- Exercise 8 --------------------------------------------------------------------------------

DATASHEET_WRITTEN = Written(
    manual_points=4, min_words=80,
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
        "Give every claim a number from your analysis, and say how sure you are: the audit is a sample.",
    ),
    written=DATASHEET_WRITTEN,
)


# --- Exercise 9 --------------------------------------------------------------------------------

DECISION_WRITTEN = Written(
    manual_points=3, min_words=50,
    must_mention=(("drop", "dedup", "remove", "relabel", "re-label", "fix", "collect"),),
)


NEXT_RUN_DECISION = Exercise(
    key="next_run_decision", number=9, title="What to fix before the next training run", points=0,
    expects="your decision and its reasons as text in triple quotes",
    hints=(
        "Pick what to fix first and say why with a number: what it does to the accuracy the team reports, to "
        "the labels the model learns from, or to the users it will serve. Say what you will not fix yet.",
        "A good decision also says how you will know it worked: which number you will measure after the fix.",
    ),
    written=DECISION_WRITTEN,
)


MODULE = Module(
    slug="02-data-quality-audit",
    title="Data quality audit",
    purpose="Audit the training data of a support-ticket classifier and say, with numbers, whether to trust it.",
    minutes=90,
    tables=("support_tickets", "support_tickets_audit", "support_tickets_production_mix"),
    exercises=(DUPLICATE_COUNTS, LEAKAGE_EFFECT, CONFIDENT_JOINT, LABEL_ISSUES, AUDIT_ESTIMATES, RELABEL_SAMPLE_SIZE,
               SLICE_MIX, DATASHEET_ENTRIES, NEXT_RUN_DECISION),
)
