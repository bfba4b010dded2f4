"""Answer key for module 05. Each exercise function takes the learner's DataSource and returns the reference.

Never shipped to a candidate. The statistics are computed here by hand, vectorised over features and
weeks; the tests cross-check PSI with a second implementation, KS with scipy.stats.ks_2samp and
Jensen-Shannon with scipy.spatial.distance.jensenshannon. The `*_of` functions take the tables
themselves, so the truth tests can run them on any seed's draw.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from scipy.stats import chi2

from aipmlab.answer_key import Criterion, ExampleAnswer, Level, Rubric
from aipmlab.exercises.core import DataSource
from aipmlab.exercises.m05_drift_and_rollback import (
    ALARM_QUANTILE, BINS, DRIFT_WEEKS, FEATURES, NOISE_WEEKS, POST_WEEKS, PREDICTIVE, REFERENCE_WEEKS, SHARE_FLOOR,
    UPDATE_WEEK, apply_rule, auc_by_week, seal, wilson_interval,
)

# The reference rule: v1's catch rate less five points, judged on two weeks in a row whose misses have mostly
# arrived. A drift alarm alone calls for a look, never a rollback.
FLOOR_MARGIN = 0.05
REFERENCE_MATURITY = 0.8
REFERENCE_CONSECUTIVE = 2
MATURE_FOR_CONCEPT = 0.5   # weeks whose settled labels are used to read P(y|x)


def _tables(data: DataSource) -> tuple[pd.DataFrame, pd.DataFrame]:
    return data.load("refund_requests_before"), data.load("refund_requests_after")


def _logs(data: DataSource) -> pd.DataFrame:
    """Every week's requests, before and after the update, in one table."""
    return pd.concat(_tables(data), ignore_index=True)


# --- Exercise 1 ---------------------------------------------------------------------------------------------

def baseline_of(before: pd.DataFrame) -> float:
    """v1's catch rate over the pre-update weeks (every label there has arrived)."""
    abusive = before[before["abuse"] == 1]
    return float(abusive["reviewed"].mean())


def rule_of(before: pd.DataFrame) -> dict:
    """The reference rule, sealed as if fixed before any evaluation data loaded."""
    baseline = baseline_of(before)
    return seal({"metric": "catch_rate", "baseline": baseline, "quality_floor": round(baseline - FLOOR_MARGIN, 4),
                 "min_label_maturity": REFERENCE_MATURITY, "consecutive_weeks": REFERENCE_CONSECUTIVE,
                 "on_drift_alone": "investigate"}, loads_before=0)


def rollback_rule(data: DataSource) -> dict:
    return rule_of(_tables(data)[0])


# --- Exercise 2 ---------------------------------------------------------------------------------------------

def _shares(binned: np.ndarray, weeks: np.ndarray, week_list: tuple[int, ...]) -> np.ndarray:
    """Share of each week's rows per bin: (weeks, bins)."""
    index = np.searchsorted(np.array(week_list), weeks)
    counts = np.zeros((len(week_list), BINS))
    np.add.at(counts, (index, binned), 1)
    return counts / counts.sum(axis=1, keepdims=True)


def _ks(reference: np.ndarray, values: np.ndarray, weeks: np.ndarray, week_list: tuple[int, ...]) -> np.ndarray:
    """Two-sample KS statistic of each week's values against the reference (exact, on the pooled points)."""
    reference = np.sort(reference)
    out = []
    for week in week_list:
        sample = np.sort(values[weeks == week])
        points = np.concatenate([reference, sample])
        gap = np.abs(np.searchsorted(reference, points, side="right") / reference.size
                     - np.searchsorted(sample, points, side="right") / sample.size)
        out.append(gap.max())
    return np.array(out)


def drift_of(logs: pd.DataFrame, weeks: tuple[int, ...]) -> pd.DataFrame:
    """PSI, KS and JS distance (base 2) of each feature in each of `weeks` against the reference weeks."""
    rows = []
    is_reference = logs["week"].isin(REFERENCE_WEEKS).to_numpy()
    current = logs[logs["week"].isin(weeks)]
    week_of = current["week"].to_numpy()
    for feature in FEATURES:
        reference = logs.loc[is_reference, feature].to_numpy(dtype=float)
        values = current[feature].to_numpy(dtype=float)
        edges = np.quantile(reference, np.linspace(0, 1, BINS + 1))[1:-1]
        expected = np.maximum(np.bincount(np.searchsorted(edges, reference, side="right"), minlength=BINS)
                              / reference.size, SHARE_FLOOR)
        actual = np.maximum(_shares(np.searchsorted(edges, values, side="right"), week_of, weeks), SHARE_FLOOR)
        psi = ((actual - expected) * np.log(actual / expected)).sum(axis=1)
        p = actual / actual.sum(axis=1, keepdims=True)
        q = expected / expected.sum()
        middle = (p + q) / 2
        divergence = 0.5 * (p * np.log2(p / middle)).sum(axis=1) + 0.5 * (q * np.log2(q / middle)).sum(axis=1)
        ks = _ks(reference, values, week_of, weeks)
        rows.append(pd.DataFrame({"feature": feature, "week": list(weeks), "psi": psi, "ks": ks,
                                  "js": np.sqrt(np.maximum(divergence, 0.0))}))
    return pd.concat(rows, ignore_index=True)


@lru_cache(maxsize=2)
def _logs_and_drift(data: DataSource) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The logs and their drift table, once per DataSource: three exercises' references start from them. Callers
    must not change what it returns."""
    logs = _logs(data)
    return logs, drift_of(logs, DRIFT_WEEKS)


def drift(data: DataSource) -> pd.DataFrame:
    return _logs_and_drift(data)[1].copy()


# --- Exercise 3 ---------------------------------------------------------------------------------------------

def alarm_threshold(week_rows: int, reference_rows: int) -> float:
    """The PSI that noise alone reaches about once in 100 feature-weeks (chi-square approximation)."""
    return float(chi2.ppf(ALARM_QUANTILE, BINS - 1) * (1 / week_rows + 1 / reference_rows))


def alarm_of(logs: pd.DataFrame, drift_table: pd.DataFrame) -> dict:
    """The calibrated threshold, the noise weeks' crossings, and the post-update feature-weeks that cross it."""
    week_rows = int(logs.groupby("week").size().median())
    threshold = alarm_threshold(week_rows, int(logs["week"].isin(REFERENCE_WEEKS).sum()))
    over = drift_table[drift_table["psi"] >= threshold]
    return {"threshold": threshold, "noise_alarms": int(over["week"].isin(NOISE_WEEKS).sum()),
            "alarms": [[f, int(w)] for f, w in zip(over["feature"], over["week"]) if w >= UPDATE_WEEK]}


def alarm(data: DataSource) -> dict:
    return alarm_of(*_logs_and_drift(data))


# --- Exercise 4 ---------------------------------------------------------------------------------------------

def quality_of(logs: pd.DataFrame, weeks: tuple[int, ...] = POST_WEEKS) -> pd.DataFrame:
    """Per week: volume, review rate, caught and known misses, label maturity, the catch rate so far and matured."""
    frame = logs[logs["week"].isin(weeks)]
    reviewed = frame["reviewed"] == 1
    abuse = frame["abuse"].astype("float")
    grouped = pd.DataFrame({"week": frame["week"], "reviewed": reviewed, "caught": reviewed & (abuse == 1),
                            "missed_known": ~reviewed & (abuse == 1), "unreviewed": ~reviewed,
                            "settled_unreviewed": ~reviewed & abuse.notna()}).groupby("week").sum()
    requests = frame.groupby("week").size()
    table = pd.DataFrame({"requests": requests, "review_rate": grouped["reviewed"] / requests,
                          "caught": grouped["caught"], "missed_known": grouped["missed_known"]})
    table["maturity"] = grouped["settled_unreviewed"] / grouped["unreviewed"]
    known = table["caught"] + table["missed_known"]
    table["known_catch_rate"] = (table["caught"] / known).where(known > 0)
    missed = (table["missed_known"] / table["maturity"]).where(table["maturity"] > 0)
    table["catch_rate"] = table["caught"] / (table["caught"] + missed)
    bounds = [wilson_interval(c, c + m) if m == m else (np.nan, np.nan) for c, m in zip(table["caught"], missed)]
    table["ci_low"], table["ci_high"] = [b[0] for b in bounds], [b[1] for b in bounds]
    table.index = table.index.astype(int)
    return table.rename_axis("week").astype(float)


def quality(data: DataSource) -> pd.DataFrame:
    return quality_of(_tables(data)[1])


# --- Exercise 5 ---------------------------------------------------------------------------------------------

def prevalence_of(table: pd.DataFrame) -> pd.Series:
    """Estimated share of abusive requests per week from a quality table: caught plus misses scaled by maturity."""
    missed = (table["missed_known"] / table["maturity"]).where(table["maturity"] > 0)
    return (table["caught"] + missed) / table["requests"]


def separation_of(logs: pd.DataFrame) -> pd.DataFrame:
    """AUC of each predictive feature alone per week, on settled rows, oriented so that above 0.5 means 'the
    risky side is abuse', as before the update."""
    auc = auc_by_week(logs, PREDICTIVE)
    flip = auc.columns[auc[auc.index < UPDATE_WEEK].mean() < 0.5]
    auc[flip] = 1 - auc[flip]
    return auc


def _change_week(series: pd.Series) -> int:
    """The post-update week that best splits a weekly series into two flat stretches (least squares)."""
    values = series.dropna()
    best, best_week = np.inf, UPDATE_WEEK
    for week in [w for w in values.index if w > UPDATE_WEEK]:
        left, right = values[values.index < week], values[values.index >= week]
        cost = ((left - left.mean()) ** 2).sum() + ((right - right.mean()) ** 2).sum()
        if cost < best:
            best, best_week = cost, int(week)
    return best_week


def diagnosis_of(logs: pd.DataFrame, drift_table: pd.DataFrame, threshold: float) -> dict:
    """Exercise 5 on the logs: the shifted input (P(x)), the prevalence step (P(y)), the feature that lost meaning."""
    post = drift_table[drift_table["week"] >= UPDATE_WEEK].pivot(index="week", columns="feature", values="psi")
    covariate = str(post.loc[post.index.max()].idxmax())
    crossed = post.index[post[covariate] >= threshold]
    covariate_week = int(crossed.min()) if len(crossed) else int(post.index.max())
    table = quality_of(logs, tuple(sorted(logs["week"].unique())))
    prevalence = prevalence_of(table)
    label_week = _change_week(prevalence[table["maturity"] > 0])
    separation = separation_of(logs)
    mature = table.index[(table["maturity"] >= MATURE_FOR_CONCEPT) | (table.index < UPDATE_WEEK)]
    separation = separation.loc[separation.index.isin(mature)]
    before = separation[separation.index < UPDATE_WEEK].mean()
    latest = separation[separation.index >= UPDATE_WEEK].tail(2).mean()
    concept = str((before - latest).idxmax())
    concept_week = _change_week(separation[concept])
    return {"covariate": {"feature": covariate, "week": covariate_week}, "label": {"week": label_week},
            "concept": {"feature": concept, "week": concept_week}}


def shift_diagnosis(data: DataSource) -> dict:
    logs, drift_table = _logs_and_drift(data)
    return diagnosis_of(logs, drift_table, alarm_of(logs, drift_table)["threshold"])


# --- Exercise 6 ---------------------------------------------------------------------------------------------

def rollback_decision(data: DataSource) -> dict:
    """The reference rule applied to the reference quality table (the check applies the learner's own rule)."""
    rule = rollback_rule(data)
    return {**apply_rule(rule, quality(data)), "rule": rule}


RUBRICS = {
    "rollback_memo": Rubric((
        Criterion("What happened, told apart", (
            Level(0, "One story for everything (\"the data drifted\"), or shifts named without evidence."),
            Level(1, "Names the shifts, but the evidence does not tell them apart: for example a concept shift "
                     "inferred from input drift, or a label shift read from labels known so far."),
            Level(2, "Names each shift with its week and where it hit, and the evidence that distinguishes it: "
                     "P(x) for the new market, P(y) with the maturity correction, P(y|x) for the feature that lost "
                     "its meaning; says which shift hurts users and which does not."),
        )),
        Criterion("The decision and its rule", (
            Level(0, "A decision without the rule, or a rule changed after looking."),
            Level(1, "Applies the rule, but quotes point estimates, or judges weeks whose labels have not arrived."),
            Level(2, "Quotes the rule as fixed before the data, the weeks it judged with their catch rate and "
                     "interval against the floor, and the decision that follows; says what holding a week costs "
                     "users."),
        )),
        Criterion("Limits and what would change it", (
            Level(0, "Nothing on what is unknown or what would change the call."),
            Level(1, "Mentions uncertainty in general words."),
            Level(2, "Names what is not known yet (recent weeks' misses, a model retrained on the new meaning), the "
                     "evidence that would reverse the call, and the follow-up (retrain, re-check, when)."),
        )),
    )),
}


# Example memos at three levels, scored by the rubric (reviewed by hand). The strong one quotes the canonical
# seed; tests/test_m05_drift_and_rollback.py checks every figure it states against the canonical data.
EXAMPLES = {
    "rollback_memo": (
        ExampleAnswer("weak", (
            "After the model update in week 8 the data drifted a lot. The PSI of order_value went to about 0.2, "
            "which is a moderate shift. There was also some concept drift and the labels changed. Because the data "
            "drifted so much we should roll back to the old model to be safe. The monitoring worked well and "
            "caught the problem. We should also retrain the model on more recent data so that it is more robust "
            "to drift in future. The team should keep watching the dashboard every week and roll back again if "
            "the PSI goes above 0.25 on any feature, since covariate shift is dangerous for models."
        ), {"What happened, told apart": 0, "The decision and its rule": 0, "Limits and what would change it": 1}),
        ExampleAnswer("middling", (
            "Memo on refund model v2. Three things changed after the update in week 8. A new market (NL) grew from "
            "week 12 and its customers differ on order_value, which is why order_value drifts: a covariate shift. "
            "Abuse became more common from week 9, which is a label shift. And from week 10 the catch rate of v2 "
            "fell, which looks like a concept shift on prior_refund_rate, because that feature also drifted above "
            "our alarm in weeks 10 to 12. Our rule says to roll back when two mature weeks are below the floor of "
            "0.54. The catch rate in the latest weeks was about 0.3, far below the floor, so we roll back to v1. "
            "After the rollback we will retrain v2 and try again. The covariate shift does not need any action."
        ), {"What happened, told apart": 1, "The decision and its rule": 1, "Limits and what would change it": 1}),
        ExampleAnswer("strong", (
            "Memo: instant-refund model v2, decision at the end of week 15.\n\n"
            "What happened. Three shifts followed the update in week 8. From week 12 a new market, NL, grew to about "
            "a quarter of traffic; its orders are larger, so order_value drifted far above our alarm (PSI 0.20 by "
            "week 15) while nothing says its customers abuse more: a covariate shift, P(x) moved and P(y|x) did "
            "not. From week 9 the share of abusive requests rose from about 8% to about 14% once the missing labels "
            "are scaled up: a label shift, with abusers looking as before. From week 10 prior_refund_rate stopped "
            "separating abuse from honest requests (its AUC fell from about 0.86 to about 0.54) while its "
            "distribution moved little (PSI below 0.05, in the small band): a concept shift, P(y|x) moved. v2 leans "
            "on that feature, so this is the shift that hurts users.\n\n"
            "Decision. The rule we fixed before loading the post-update weeks rolls back when the two latest weeks "
            "with at least 80% of labels settled both have an upper bound below the floor of 0.54 (v1's 0.59 less "
            "five points). It judged weeks 13 and 14: catch rates 0.30 and 0.28, upper bounds 0.39 and 0.36. We "
            "roll back. Each week on v2 pays out about 1,200 more abusive instant refunds than v1 would; v1 holds "
            "about 470 more honest customers a week for review, a cost we accept.\n\n"
            "Limits. Week 15 is not judged: none of its misses has arrived, and the dashboard shows it catching "
            "every abuser. v1 also uses prior_refund_rate a little, so it is hurt too: rolling back limits the harm, "
            "it does not cure it. We will retrain on weeks 10 to 15 once labels settle, and roll forward only when "
            "a candidate's lower bound clears the floor on two mature weeks."
        ), {"What happened, told apart": 2, "The decision and its rule": 2, "Limits and what would change it": 2}),
    ),
}
