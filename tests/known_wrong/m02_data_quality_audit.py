"""Known-wrong answers for module 02 (data quality audit)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from aipmlab import answer_key
from aipmlab.exercises.m02_data_quality_audit import (
    CHECK_MARGIN, INTENTS, TARGET_ERROR_RATE, near_duplicate_groups, normalise_text, out_of_fold_probabilities,
    train_intent_model,
)


def _key():
    return answer_key.load("m02_data_quality_audit")


def _tickets(data) -> pd.DataFrame:
    tickets = data.load("support_tickets")
    tickets["group"] = near_duplicate_groups(tickets["text"])
    return tickets


def _train(data) -> pd.DataFrame:
    tickets = _tickets(data)
    return tickets[tickets["split"] == "train"]


# --- Exercise 1 --------------------------------------------------------------------------------

def _duplicates(data, every_member: bool = False, train_only: bool = False, nested: bool = False) -> dict:
    tickets = _train(data) if train_only else _tickets(data)
    texts = tickets["text"]
    if every_member:  # counts the first ticket of each group as a copy too
        exact = int(texts.duplicated(keep=False).sum())
        return {"exact": exact, "formatting": len(tickets) - exact - texts.nunique(), "small_edit": 0,
                "distinct": texts.nunique()}
    exact = len(tickets) - texts.nunique()
    formatting = texts.nunique() - texts.map(normalise_text).nunique()
    small_edit = texts.map(normalise_text).nunique() - tickets["group"].nunique()
    if nested:  # each level counted from scratch, so exact copies are counted again as formatting copies
        formatting, small_edit = exact + formatting, exact + formatting + small_edit
        return {"exact": exact, "formatting": formatting, "small_edit": small_edit,
                "distinct": len(tickets) - exact - formatting - small_edit}
    return {"exact": exact, "formatting": formatting, "small_edit": small_edit, "distinct": tickets["group"].nunique()}


def _no_normalising(data) -> dict:
    """Near duplicates found by exact text only: formatting copies left in 'distinct'."""
    tickets = _tickets(data)
    exact = len(tickets) - tickets["text"].nunique()
    return {"exact": exact, "formatting": 0, "small_edit": 0, "distinct": tickets["text"].nunique()}


# --- Exercise 2 --------------------------------------------------------------------------------

def _leakage(data, exact_only: bool = False, share_of_all: bool = False, trained_on_all: bool = False,
             swap: bool = False, scale: float = 1.0, adjudicated: str = "unleaked", interval: str = "wilson") -> dict:
    tickets = _tickets(data)
    train, test = tickets[tickets["split"] == "train"], tickets[tickets["split"] == "test"]
    fitted_on = tickets if trained_on_all else train
    predicted = train_intent_model(fitted_on["text"], fitted_on["label"]).predict(test["text"])
    correct = pd.Series(predicted == test["label"].to_numpy(), index=test.index)
    leaked = test["text"].isin(set(train["text"])) if exact_only else test["group"].isin(set(train["group"]))
    unleaked_accuracy = correct[leaked].mean() if swap else correct[~leaked].mean()
    expert = test.assign(predicted=predicted).merge(data.load("support_tickets_audit"), on="ticket_id")
    expert_leaked = expert["group"].isin(set(train["group"]))
    scored = {"unleaked": expert[~expert_leaked], "all": expert}[adjudicated]
    right = scored["predicted"] == scored["audit_label"]
    low, high = proportion_confint(int(right.sum()), len(right), alpha=0.05, method=interval)
    rate = float(right.mean())
    return {"leaked": int(leaked.sum()),
            "leaked_share": scale * leaked.sum() / (len(tickets) if share_of_all else len(test)),
            "accuracy_reported": scale * correct.mean(), "accuracy_unleaked": scale * unleaked_accuracy,
            "accuracy_adjudicated": scale * rate, "adjudicated_ci_low": scale * min(max(0.0, low), rate),
            "adjudicated_ci_high": scale * max(min(1.0, high), rate)}


def _leakage_rounded(data, decimals: int) -> dict:
    """The right answer, with every share rounded: 4 decimals is accepted, 2 is a material error."""
    answer = _key().leakage_effect(data)
    return {key: round(value, decimals) if isinstance(value, float) else value for key, value in answer.items()}


# --- Exercises 3 and 4 -------------------------------------------------------------------------

def _probabilities(data, in_sample: bool = False) -> pd.DataFrame:
    train = data.load("support_tickets").query("split == 'train'")
    if in_sample:  # scored by a model that was trained on the very tickets it scores
        model = train_intent_model(train["text"], train["label"])
        return pd.DataFrame(model.predict_proba(train["text"]), index=pd.Index(train["ticket_id"], name="ticket_id"),
                            columns=model.classes_)[list(INTENTS)]
    return out_of_fold_probabilities(train)


def _confident(data, thresholds: str = "per_class", in_sample: bool = False, argmax_only: bool = False) -> pd.DataFrame:
    train = data.load("support_tickets").query("split == 'train'")
    probs = _probabilities(data, in_sample)
    values, given = probs.to_numpy(), train["label"].to_numpy()
    if thresholds == "per_class":
        t = np.array([values[given == intent, k].mean() for k, intent in enumerate(INTENTS)])
    elif thresholds == "over_all_tickets":
        t = values.mean(axis=0)
    else:
        t = np.full(len(INTENTS), 0.5)
    above = values >= t
    if argmax_only:
        above = np.ones_like(above)
    pick = np.where(above, values, -np.inf).argmax(axis=1)
    names = np.array(INTENTS, dtype=object)
    return pd.DataFrame({"given_label": given, "confident": np.where(above.any(axis=1), names[pick], None),
                         "self_confidence": values[np.arange(len(given)), [INTENTS.index(g) for g in given]],
                         "max_probability": values.max(axis=1)}, index=probs.index)


def _joint(data, transpose: bool = False, calibrate: bool = False, **options) -> pd.DataFrame:
    rows = _confident(data, **options).dropna(subset=["confident"])
    joint = pd.crosstab(rows["given_label"], rows["confident"]).reindex(index=list(INTENTS), columns=list(INTENTS),
                                                                        fill_value=0)
    if calibrate:  # rescaled so each row adds up to the number of tickets with that label (cleanlab's default)
        label_counts = data.load("support_tickets").query("split == 'train'")["label"].value_counts()
        joint = (joint.div(joint.sum(axis=1), axis=0).mul(label_counts[list(INTENTS)], axis=0)).round()
    if transpose:
        joint = joint.T
    return joint.rename_axis(index="given_label", columns=None)


def _issues(data, argmax_only: bool = False, descending: bool = False, score: str = "self_confidence",
            in_sample: bool = False, thresholds: str = "per_class") -> pd.DataFrame:
    rows = _confident(data, argmax_only=argmax_only, in_sample=in_sample, thresholds=thresholds)
    flagged = rows[rows["confident"].notna() & (rows["confident"] != rows["given_label"])]
    issues = flagged.rename(columns={"confident": "suggested_label"})
    issues["self_confidence"] = issues[score]
    return issues[["given_label", "suggested_label", "self_confidence"]].sort_values(
        "self_confidence", ascending=not descending, kind="stable")


# --- Exercise 5 --------------------------------------------------------------------------------

def _audit(data, method: str = "wilson", alpha: float = 0.05, recall_for_precision: bool = False,
           rate_from_flagged: bool = False, unaudited_as_correct: bool = False, whole_audit: bool = False) -> dict:
    tickets = data.load("support_tickets")
    pool = tickets if whole_audit else tickets[tickets["split"] == "train"]
    audit = data.load("support_tickets_audit").merge(pool, on="ticket_id")
    audit["wrong"] = audit["audit_label"] != audit["label"]
    issues = _key().label_issues(data)
    audit["flagged"] = audit["ticket_id"].isin(issues.index)
    flagged = audit[audit["flagged"]]

    def interval(count, n):
        low, high = proportion_confint(count, n, alpha=alpha, method=method)
        return max(0.0, float(low)), min(1.0, float(high))

    rate_base = flagged if rate_from_flagged else audit
    error_rate = rate_base["wrong"].mean()
    error_low, error_high = interval(int(rate_base["wrong"].sum()), len(rate_base))
    if recall_for_precision:  # share of the audited errors that were flagged
        wrong = audit[audit["wrong"]]
        hits, base = int(wrong["flagged"].sum()), len(wrong)
    elif unaudited_as_correct:  # every flagged ticket, audited or not, with unaudited ones counted as right
        hits, base = int(flagged["wrong"].sum()), len(issues)
    else:
        hits, base = int(flagged["wrong"].sum()), len(flagged)
    low, high = interval(hits, base)
    return {"error_rate": error_rate, "error_ci_low": min(error_low, error_rate), "error_ci_high": error_high,
            "flagged_audited": min(base, len(audit)), "flagged_precision": hits / base,
            "precision_ci_low": min(low, hits / base), "precision_ci_high": max(high, hits / base)}


# --- Exercise 6 --------------------------------------------------------------------------------

def _plan(data, recall_from: str = "audit", population: str = "train", correction: bool = True,
          planning_rate: str = "target", plan: str | None = None, after: str = "missed", z: float = 1.959964,
          margin: float = CHECK_MARGIN, rounding=math.ceil) -> dict:
    key = _key()
    estimates = key.audit_estimates(data)
    tickets = data.load("support_tickets")
    train = tickets[tickets["split"] == "train"]
    audit = data.load("support_tickets_audit").merge(train, on="ticket_id")
    audit["wrong"] = audit["audit_label"] != audit["label"]
    audit["flagged"] = audit["ticket_id"].isin(key.label_issues(data).index)
    recall = {"audit": audit.loc[audit["wrong"], "flagged"].mean(),
              "precision": estimates["flagged_precision"],  # precision reported as recall
              "queue_share": len(key.label_issues(data)) / len(train)}[recall_from]
    rate = estimates["error_rate"]
    left = {"missed": rate * (1 - recall), "caught": rate * recall}[after]
    p = {"target": TARGET_ERROR_RATE, "audit": rate, "half": 0.5}[planning_rate]
    n0 = z ** 2 * p * (1 - p) / margin ** 2
    size = {"train": len(train), "all": len(tickets)}[population]
    n = n0 / (1 + (n0 - 1) / size) if correction else n0
    chosen = plan or ("queue" if left <= TARGET_ERROR_RATE else "all")
    return {"queue_recall": float(recall), "rate_after_queue": float(left), "plan": chosen,
            "n_check": int(min(len(train), max(1, rounding(n))))}


def _plan_rounded(data, decimals: int) -> dict:
    answer = _key().relabel_plan(data)
    return {**answer, "queue_recall": round(answer["queue_recall"], decimals),
            "rate_after_queue": round(answer["rate_after_queue"], decimals)}


# --- Exercise 7 --------------------------------------------------------------------------------

def _mix(data, all_splits: bool = False, inverted: bool = False, cutoff: float = 0.5) -> pd.DataFrame:
    tickets = data.load("support_tickets")
    production = data.load("support_tickets_production_mix").set_index("channel")["production_share"]
    pool = tickets if all_splits else tickets[tickets["split"] == "train"]
    mix = pd.DataFrame({"train_share": pool["channel"].value_counts(normalize=True)[production.index],
                        "production_share": production})
    mix["ratio"] = mix["production_share"] / mix["train_share"] if inverted else mix["train_share"] / mix[
        "production_share"]
    mix["under_represented"] = (mix["train_share"] / mix["production_share"]) < cutoff
    return mix.rename_axis("channel")


KNOWN_WRONG = {
    "duplicate_counts": {
        "every member of a duplicate group counted as a copy": lambda d: _duplicates(d, every_member=True),
        "counted on the training split only": lambda d: _duplicates(d, train_only=True),
        "each level counted from scratch (exact copies counted again)": lambda d: _duplicates(d, nested=True),
        "texts compared without normalising": _no_normalising,
    },
    "leakage_effect": {
        "only exact copies count as leaks": lambda d: _leakage(d, exact_only=True),
        "leaked share of all tickets, not of the test split": lambda d: _leakage(d, share_of_all=True),
        "model trained on train and test together": lambda d: _leakage(d, trained_on_all=True),
        "accuracy on the leaked tickets reported as unleaked": lambda d: _leakage(d, swap=True),
        "percentages instead of shares": lambda d: _leakage(d, scale=100.0),
        "adjudicated accuracy on every test ticket, leaked ones included": lambda d: _leakage(d, adjudicated="all"),
        "normal (Wald) interval on the adjudicated accuracy": lambda d: _leakage(d, interval="normal"),
        "shares rounded to 2 decimals": lambda d: _leakage_rounded(d, 2),
    },
    "confident_joint": {
        "one threshold of 0.5 for every intent": lambda d: _joint(d, thresholds="fixed"),
        "thresholds averaged over all tickets, not those with the label":
            lambda d: _joint(d, thresholds="over_all_tickets"),
        "in-sample probabilities, not out-of-fold": lambda d: _joint(d, in_sample=True),
        "plain confusion matrix of given label against top prediction": lambda d: _joint(d, argmax_only=True),
        "transposed: rows are the confident intent": lambda d: _joint(d, transpose=True),
        "calibrated to the label counts": lambda d: _joint(d, calibrate=True),
    },
    "label_issues": {
        "one threshold of 0.5 for every intent": lambda d: _issues(d, thresholds="fixed"),
        "every ticket whose top prediction differs from its label": lambda d: _issues(d, argmax_only=True),
        "ranked with the most confident first": lambda d: _issues(d, descending=True),
        "self-confidence taken as the top probability": lambda d: _issues(d, score="max_probability"),
        "in-sample probabilities, not out-of-fold": lambda d: _issues(d, in_sample=True),
    },
    "audit_estimates": {
        "normal (Wald) intervals": lambda d: _audit(d, method="normal"),
        "90% intervals": lambda d: _audit(d, alpha=0.10),
        "recall of the flagged set reported as its precision": lambda d: _audit(d, recall_for_precision=True),
        "error rate measured on the flagged tickets only": lambda d: _audit(d, rate_from_flagged=True),
        "unaudited flagged tickets counted as correct labels": lambda d: _audit(d, unaudited_as_correct=True),
        "error rate over the whole audit, adjudicated test tickets included": lambda d: _audit(d, whole_audit=True),
    },
    "relabel_plan": {
        "the flagged set's precision reported as the queue's recall": lambda d: _plan(d, recall_from="precision"),
        "the queue's share of the training split taken as its recall": lambda d: _plan(d, recall_from="queue_share"),
        "rate left computed from the errors the queue catches": lambda d: _plan(d, after="caught"),
        "no finite-population correction": lambda d: _plan(d, correction=False),
        "finite-population correction over all tickets, not the training split": lambda d: _plan(d, population="all"),
        "check planned at the audit's error rate, not the target": lambda d: _plan(d, planning_rate="audit"),
        "check planned at p = 0.5": lambda d: _plan(d, planning_rate="half"),
        "z for 90% confidence": lambda d: _plan(d, z=1.644854),
        "margin of 2 points, not 1": lambda d: _plan(d, margin=2 * CHECK_MARGIN),
        "rounded down": lambda d: _plan(d, rounding=math.floor),
        "everything re-labelled although the queue is enough": lambda d: _plan(d, plan="all"),
        "shares rounded to 2 decimals": lambda d: _plan_rounded(d, 2),
        "plan given as 'flagged' instead of 'queue'": lambda d: _plan(d, plan="flagged"),
    },
    "slice_mix": {
        "shares of all tickets, not of the training split": lambda d: _mix(d, all_splits=True),
        "ratio inverted (production over training)": lambda d: _mix(d, inverted=True),
        "under-represented whenever the ratio is below 1": lambda d: _mix(d, cutoff=1.0),
        "counts instead of shares": lambda d: _mix(d).assign(train_share=lambda m: m["train_share"] * 3200),
    },
    "datasheet_entries": {
        "placeholder text": lambda d: "YOUR ANSWER HERE",
        "one line": lambda d: "8% of labels are wrong (95% CI 6% to 11%) and 9% of tickets are duplicates.",
        "no figures": lambda d: " ".join(["The data has duplicates, leaks into the test set and has label errors, "
                                          "and the channel interval is unclear."] * 6),
        "no uncertainty on any rate": lambda d: " ".join(["About 8% of labels are wrong and 9% of tickets are "
                                                          "duplicates; refund and billing are mixed up."] * 6),
        "keyword salad with made-up figures": lambda d: ("duplicate leak label interval margin ± channel audit "
                                                         "expert refund billing 12% 3.4% 77 " * 8),
        "fluent sentences whose figures are not in the data": lambda d: " ".join([
            "The export holds 512 duplicate tickets and 97 of them leak into the test split.",
            "An expert found 6.5% of training labels wrong, with a 95% interval of 4.1% to 9.0%.",
            "Most disputes sit between two intents and the channel mix is far from production's.",
            "The data is fit for training once the copies are gone and the labels re-checked."] * 2),
    },
    "next_run_decision": {
        "placeholder text": lambda d: "YOUR ANSWER HERE",
        "one line": lambda d: "Re-label the 33 flagged tickets first.",
        "no figures": lambda d: " ".join(["We should deduplicate and re-label the confusing tickets."] * 8),
        "no action named": lambda d: " ".join(["The model looks 2 points better than it is because of leakage."] * 6),
        "keyword salad with made-up figures": lambda d: ("dedup relabel fix collect interval target 4% 1010 386 "
                                                         "queue recall " * 8),
    },
}
