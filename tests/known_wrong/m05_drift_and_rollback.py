"""Known-wrong answers for module 05 (drift, degradation and rollback)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import chi2

from aipmlab import answer_key
from aipmlab.exercises.m05_drift_and_rollback import (
    ALARM_QUANTILE, BINS, FEATURES, NOISE_WEEKS, POST_WEEKS, REFERENCE_WEEKS, apply_rule, seal, wilson_interval,
)

KEY = answer_key.load("m05_drift_and_rollback")


def _logs(data) -> pd.DataFrame:
    return pd.concat([data.load("refund_requests_before"), data.load("refund_requests_after")], ignore_index=True)


# --- the rule -----------------------------------------------------------------------------------------------

def _rule(data, loads_before=0, **changes):
    fields = {k: v for k, v in KEY.rollback_rule(data).items() if k != "fixed"}
    return seal({**fields, **changes}, loads_before)


def _edited_after_fixing(data):
    rule = _rule(data)
    rule["quality_floor"] = rule["quality_floor"] - 0.1  # loosened after seeing the weeks
    return rule


def _unsealed(data):
    return {k: v for k, v in KEY.rollback_rule(data).items() if k != "fixed"}


def _baseline_of(data, how):
    before = data.load("refund_requests_before")
    if how == "review rate":
        return float(before["reviewed"].mean())
    if how == "precision":
        return float(before.loc[before["reviewed"] == 1, "abuse"].mean())
    return 100 * KEY.baseline_of(before)


# --- drift ------------------------------------------------------------------------------------------------

def _drift(data, binning="deciles", log=np.log, js="distance", reference=REFERENCE_WEEKS, psi_squared=False):
    logs = _logs(data)
    rows = []
    for feature in FEATURES:
        ref = logs.loc[logs["week"].isin(reference), feature].to_numpy(float)
        if binning == "deciles":
            edges = np.quantile(ref, np.linspace(0, 1, BINS + 1))[1:-1]
        else:  # equal-width bins over the reference's range
            edges = np.linspace(ref.min(), ref.max(), BINS + 1)[1:-1]
        expected = np.maximum(np.bincount(np.searchsorted(edges, ref, side="right"), minlength=BINS) / ref.size, 1e-4)
        for week in NOISE_WEEKS + POST_WEEKS:
            values = logs.loc[logs["week"] == week, feature].to_numpy(float)
            actual = np.maximum(np.bincount(np.searchsorted(edges, values, side="right"), minlength=BINS)
                                / values.size, 1e-4)
            gap = actual - expected
            psi = (gap**2).sum() if psi_squared else (gap * log(actual / expected)).sum()
            p, q = actual / actual.sum(), expected / expected.sum()
            m = (p + q) / 2
            divergence = 0.5 * (p * np.log2(p / m)).sum() + 0.5 * (q * np.log2(q / m)).sum()
            if js == "natural":
                divergence *= np.log(2)
            from scipy.stats import ks_2samp
            rows.append({"feature": feature, "week": week, "psi": psi, "ks": ks_2samp(ref, values).statistic,
                         "js": divergence if js == "divergence" else np.sqrt(divergence)})
    return pd.DataFrame(rows)


def _drift_against_previous_week(data):
    """Each week compared with the week before it, not with the fixed reference: slow drift never shows."""
    logs = _logs(data)
    rows = []
    for week in NOISE_WEEKS + POST_WEEKS:
        pair = logs[logs["week"].isin((week - 1, week))]
        table = KEY.drift_of(pair.assign(week=np.where(pair["week"] == week, 4, 0)), (4,))  # week 0 = the one before
        rows.append(table.assign(week=week))
    return pd.concat(rows, ignore_index=True)


def _drift_post_only(data):
    table = KEY.drift(data)
    return table[table["week"] >= 8].reset_index(drop=True)


def _drift_ks_as_mean_gap(data):
    table = KEY.drift(data).copy()
    table["ks"] = table["ks"] / 2
    return table


# --- alarm ------------------------------------------------------------------------------------------------

def _alarm(data, threshold=None, noise_from=NOISE_WEEKS, alarm_level=None):
    logs = _logs(data)
    drift = KEY.drift(data)
    reference = KEY.alarm(data)
    threshold = reference["threshold"] if threshold is None else threshold
    level = threshold if alarm_level is None else alarm_level
    over = drift[drift["psi"] >= level]
    return {"threshold": threshold, "noise_alarms": int(over["week"].isin(noise_from).sum()),
            "alarms": [[f, int(w)] for f, w in zip(over["feature"], over["week"]) if w >= 8]}


def _threshold(df=BINS - 1, with_reference=True):
    return float(chi2.ppf(ALARM_QUANTILE, df) * (1 / 800 + (1 / 3200 if with_reference else 0)))


# --- quality ----------------------------------------------------------------------------------------------

def _quality(data, maturity_over_all=False, no_correction=False, wald=False, fill_latest=False):
    table = KEY.quality(data).copy()
    after = data.load("refund_requests_after")
    if maturity_over_all:
        table["maturity"] = after.groupby("week")["abuse"].apply(lambda s: s.notna().mean()).astype(float)
    missed = table["missed_known"] if no_correction else (table["missed_known"] / table["maturity"]).where(
        table["maturity"] > 0)
    table["catch_rate"] = table["caught"] / (table["caught"] + missed)
    n = table["caught"] + missed
    if wald:
        half = 1.96 * np.sqrt(table["catch_rate"] * (1 - table["catch_rate"]) / n)
        table["ci_low"] = (table["catch_rate"] - half).clip(0, 1)
        table["ci_high"] = (table["catch_rate"] + half).clip(0, 1)
    else:
        bounds = [wilson_interval(c, t) if t == t else (np.nan, np.nan) for c, t in zip(table["caught"], n)]
        table["ci_low"], table["ci_high"] = [b[0] for b in bounds], [b[1] for b in bounds]
    if fill_latest:
        table = table.fillna(1.0)
    return table


def _quality_percent(data):
    table = KEY.quality(data).copy()
    table["review_rate"] *= 100
    return table


# --- diagnosis --------------------------------------------------------------------------------------------

def _diagnosis(data, **changes):
    reference = KEY.shift_diagnosis(data)
    for path, value in changes.items():
        kind, field = path.split("__")
        reference[kind] = {**reference[kind], field: value}
    return reference


def _concept_read_from_drift(data):
    """The concept shift named by the largest input drift, not by P(y|x)."""
    drift = KEY.drift(data)
    post = drift[drift["week"] >= 8]
    top = post.groupby("feature")["psi"].max().sort_values(ascending=False).index
    reference = KEY.shift_diagnosis(data)
    feature = next(f for f in top if f != reference["concept"]["feature"])
    return _diagnosis(data, concept__feature=feature)


# --- decision ---------------------------------------------------------------------------------------------

def _decision(data, decision=None, judged=None):
    reference = KEY.rollback_decision(data)
    return {"decision": decision or reference["decision"],
            "judged_weeks": judged if judged is not None else reference["judged_weeks"], "rule": reference["rule"]}


def _decision_on_latest_weeks(data):
    """Judges the two latest weeks, whose labels have not arrived, instead of the two latest mature ones."""
    rule = KEY.rollback_rule(data)
    quality = KEY.quality(data)
    judged = list(quality.index[-rule["consecutive_weeks"]:])
    return {"decision": apply_rule(rule, quality)["decision"], "judged_weeks": [int(w) for w in judged], "rule": rule}


def _decision_with_wrong_baseline(data):
    """A consistent decision from a rule whose baseline is the review rate, not the catch rate."""
    rule = _rule(data, baseline=_baseline_of(data, "review rate"), quality_floor=_baseline_of(data, "review rate"))
    return {**apply_rule(rule, KEY.quality(data)), "rule": rule}


KEYWORD_SALAD = ("Roll back rollback concept covariate label shift prior P(y|x) PSI KS JS week 10 week 12 "
                 "prior_refund_rate order_value account_age_days catch rate 0.59 floor maturity interval alarm drift "
                 "noise chi-square Wilson regret users harmed v1 v2 hold roll forward retrain monitor evidence "
                 "decision rule fixed before looking delayed labels settlement NL market new traffic abuse refunds "
                 "reviewers threshold calibration bins sample size conventional bands "
                 "Moreno-Torres Rabanser Yurdakul canary SRE " * 2)


KNOWN_WRONG = {
    "rollback_rule": {
        "written as a plain dict, never fixed": _unsealed,
        "fixed after the post-update weeks loaded": lambda d: _rule(d, loads_before=1),
        "floor loosened after fixing": _edited_after_fixing,
        "baseline is the review rate of all requests": lambda d: _rule(d, baseline=_baseline_of(d, "review rate"),
                                                                     quality_floor=_baseline_of(d, "review rate")),
        "baseline is the precision of reviews": lambda d: _rule(d, baseline=_baseline_of(d, "precision"),
                                                              quality_floor=_baseline_of(d, "precision") - 0.05),
        "baseline as a percentage": lambda d: _rule(d, baseline=_baseline_of(d, "percent")),
        "a drift alarm alone rolls back": lambda d: _rule(d, on_drift_alone="roll_back"),
        "floor above the baseline": lambda d: _rule(d, quality_floor=KEY.rollback_rule(d)["baseline"] + 0.05),
        "judges weeks whose labels have mostly not arrived": lambda d: _rule(d, min_label_maturity=0.2),
        "waits two months": lambda d: _rule(d, consecutive_weeks=8),
    },
    "drift": {
        "equal-width bins": lambda d: _drift(d, binning="equal width"),
        "PSI with log10": lambda d: _drift(d, log=np.log10),
        "squared differences instead of PSI": lambda d: _drift(d, psi_squared=True),
        "JS divergence instead of distance": lambda d: _drift(d, js="divergence"),
        "JS in natural log": lambda d: _drift(d, js="natural"),
        "reference is all eight pre-update weeks": lambda d: _drift(d, reference=tuple(range(8))),
        "post-update weeks only": _drift_post_only,
        "each week against the week before": _drift_against_previous_week,
        "KS halved": _drift_ks_as_mean_gap,
    },
    "alarm": {
        "the conventional 0.1 band": lambda d: _alarm(d, threshold=0.1),
        "chi-square with BINS degrees of freedom": lambda d: _alarm(d, threshold=_threshold(df=BINS)),
        "ignores the reference's own noise": lambda d: _alarm(d, threshold=_threshold(with_reference=False)),
        "alarms listed on the 0.1 band": lambda d: _alarm(d, alarm_level=0.1),
        "noise counted on the post-update weeks": lambda d: _alarm(d, noise_from=POST_WEEKS),
    },
    "quality": {
        "maturity over all requests, reviewed ones included": lambda d: _quality(d, maturity_over_all=True),
        "no maturity correction (the dashboard's number)": lambda d: _quality(d, no_correction=True),
        "Wald interval": lambda d: _quality(d, wald=True),
        "unknown week filled with 1": lambda d: _quality(d, fill_latest=True),
        "review rate as a percentage": _quality_percent,
    },
    "shift_diagnosis": {
        "covariate and concept features swapped": lambda d: _diagnosis(
            d, covariate__feature=KEY.shift_diagnosis(d)["concept"]["feature"],
            concept__feature=KEY.shift_diagnosis(d)["covariate"]["feature"]),
        "concept shift named by input drift": _concept_read_from_drift,
        "label shift blamed on the update week": lambda d: _diagnosis(
            d, label__week=KEY.shift_diagnosis(d)["label"]["week"] + 3 if KEY.shift_diagnosis(d)["label"]["week"] < 11
            else 8),
        "covariate week read three weeks late": lambda d: _diagnosis(
            d, covariate__week=min(15, KEY.shift_diagnosis(d)["covariate"]["week"] + 3)
            if KEY.shift_diagnosis(d)["covariate"]["week"] <= 11 else KEY.shift_diagnosis(d)["covariate"]["week"] - 3),
    },
    "rollback_decision": {
        "rolls forward because the alarms are only drift": lambda d: _decision(d, decision="roll_forward"),
        "holds for more data": lambda d: _decision(d, decision="hold"),
        "judges the latest weeks, labels or not": _decision_on_latest_weeks,
        "judges every post-update week": lambda d: _decision(d, judged=list(POST_WEEKS)),
        "the rule loosened before applying it": lambda d: {**KEY.rollback_decision(d), "rule": _edited_after_fixing(d)},
        "another rule, fixed after looking": lambda d: {**KEY.rollback_decision(d), "rule": _rule(d, loads_before=1)},
        "a rule with the wrong baseline, applied as written": _decision_with_wrong_baseline,
    },
    "rollback_memo": {
        "keyword salad": lambda d: KEYWORD_SALAD,
        "too short": lambda d: ("Concept shift on prior_refund_rate in week 10, so we roll back. Covariate shift is "
                                "fine."),
        "no figure": lambda d: ("We roll back. " + "The concept shift hurt the catch rate and the covariate shift in "
                                "the new market did not, so the rule we fixed before looking tells us to act. " * 12),
    },
}
