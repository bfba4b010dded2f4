"""Known-wrong answers for module 03 (data collection plan)."""

from __future__ import annotations

import copy
import itertools

import krippendorff
import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from aipmlab import answer_key
from aipmlab.exercises.m03_data_collection_plan import (
    ADJUDICATION_COST, COST_PER_LABEL, LABELS, RARE_SHARE_FLOOR, REPILOT_POWER, REPILOT_SIZES, TENTATIVE_ALPHA,
    items_for_positives, repilot_power, required_sample_size,
)

KEY = answer_key.load("m03_data_collection_plan")


def _labels(data) -> pd.DataFrame:
    return data.load("annotation_pilot_ratings").pivot(index="item_id", columns="rater_id", values="label")


def _kept(data) -> pd.DataFrame:
    return _labels(data).drop(columns=KEY.diagnosis(data)["excluded_raters"])


def _codes(labels: pd.DataFrame) -> np.ndarray:
    return labels.apply(lambda column: column.map({label: i for i, label in enumerate(LABELS)})).to_numpy()


# --- raw agreement -------------------------------------------------------------------------------

def _raw(data, self_pairs=False, majority=False, kept=False, scale=1.0):
    labels = _kept(data) if kept else _labels(data)
    pairs = itertools.combinations_with_replacement(labels.columns, 2) if self_pairs \
        else itertools.combinations(labels.columns, 2)
    mean_pairwise = np.mean([(labels[a] == labels[b]).mean() for a, b in pairs])
    if majority:
        mode = labels.mode(axis=1)[0]
        mean_pairwise = labels.eq(mode, axis=0).to_numpy().mean()
    return {"mean_pairwise": scale * float(mean_pairwise),
            "unanimous_share": scale * float((labels.nunique(axis=1) == 1).mean())}


# --- pairwise kappa ------------------------------------------------------------------------------

def _pairwise(data, how="cohen"):
    labels = _labels(data)
    raters = sorted(labels.columns)

    def cell(a, b):
        if a == b:
            return 0.0 if how == "zero diagonal" else 1.0
        if how == "agreement":
            return float((labels[a] == labels[b]).mean())
        if how == "linear weights":
            return float(cohen_kappa_score(labels[a], labels[b], weights="linear"))
        if how == "pooled shares":
            observed = (labels[a] == labels[b]).mean()
            pooled = pd.concat([labels[a], labels[b]]).value_counts(normalize=True)
            chance = float((pooled**2).sum())
            return float((observed - chance) / (1 - chance))
        return float(cohen_kappa_score(labels[a], labels[b]))

    table = pd.DataFrame([[cell(a, b) for b in raters] for a in raters], index=raters, columns=raters)
    table = table.rename_axis("rater_id")
    return table.reset_index() if how == "rater as column" else table


# --- coefficients --------------------------------------------------------------------------------

def _coefficients(data, fleiss_method="fleiss", alpha_from="all", level="nominal", fleiss_from_cohen=False,
                  band=None):
    labels = _labels(data)
    table, _ = aggregate_raters(_codes(labels), n_cat=len(LABELS))
    kappa = fleiss_kappa(table, method=fleiss_method)
    if fleiss_from_cohen:
        kappas = KEY.pairwise_kappa(data).to_numpy()
        kappa = (kappas.sum() - len(kappas)) / (len(kappas) * (len(kappas) - 1))
    source = _kept(data) if alpha_from == "kept" else labels
    alpha = krippendorff.alpha(reliability_data=_codes(source).T.astype(float), level_of_measurement=level)
    return {"fleiss_kappa": float(kappa), "krippendorff_alpha": float(alpha),
            "landis_koch_band": band or KEY._band(float(kappa))}


# --- kappa paradox -------------------------------------------------------------------------------

def _paradox(data, how):
    labels = _labels(data)
    reference = KEY.kappa_paradox(data)
    frame = reference.copy()
    if how == "multi-class kappa":
        kappa, observed, chance = KEY._fleiss(KEY._counts(labels))
        frame["percent_agreement"], frame["expected_agreement"], frame["kappa"] = observed, chance, kappa
    elif how == "chance as p squared":
        frame["expected_agreement"] = frame["prevalence"] ** 2
    elif how == "prevalence of majority labels":
        majority = labels.mode(axis=1)[0].value_counts(normalize=True)
        frame["prevalence"] = majority.reindex(list(LABELS), fill_value=0.0).to_numpy()
    elif how == "unanimous share as agreement":
        for label in LABELS:
            yes = (labels == label).sum(axis=1)
            frame.loc[label, "percent_agreement"] = ((yes == 0) | (yes == labels.shape[1])).mean()
    frame["kappa"] = (frame["percent_agreement"] - frame["expected_agreement"]) / (1 - frame["expected_agreement"])
    return frame


# --- diagnosis -----------------------------------------------------------------------------------

def _diagnosis(data, confusion_from="kept", ordered=True, excluded=None, pair=None):
    reference = KEY.diagnosis(data)
    excluded = reference["excluded_raters"] if excluded is None else excluded
    labels = _labels(data) if confusion_from == "all" else _labels(data).drop(columns=excluded)
    codes = _codes(labels)
    matrix = np.zeros((len(LABELS), len(LABELS)), dtype=int)
    pairs = itertools.permutations(range(codes.shape[1]), 2) if ordered \
        else itertools.combinations(range(codes.shape[1]), 2)
    for a, b in pairs:
        np.add.at(matrix, (codes[:, a], codes[:, b]), 1)
    confusion = pd.DataFrame(matrix, index=pd.Index(LABELS, name="label"), columns=list(LABELS))
    return {"excluded_raters": excluded, "confusion": confusion, "confused_pair": pair or reference["confused_pair"]}


def _mean_kappa(data) -> pd.Series:
    kappas = KEY.pairwise_kappa(data)
    return (kappas.sum() - 1) / (len(kappas) - 1)


def _largest_count_pair(data):
    """The pair with the largest off-diagonal count among the kept raters, ignoring what each mix-up costs."""
    confusion = KEY.diagnosis(data)["confusion"]
    weights = np.where(np.eye(len(LABELS), dtype=bool), 0, 1)
    harm = confusion * KEY.COST_MATRIX
    by_count = (confusion * weights).stack()
    # On seeds where the costliest pair is also the most frequent, the mistake is indistinguishable; take the
    # costliest pair among the rest, which is what a count-only reading gets wrong on other seeds.
    if sorted(by_count.idxmax()) == sorted(harm.stack().idxmax()):
        by_count = by_count.drop([tuple(KEY.diagnosis(data)["confused_pair"]),
                                  tuple(reversed(KEY.diagnosis(data)["confused_pair"]))])
    return sorted(by_count.idxmax())


def _most_common_pair(data):
    shares = _labels(data).stack().value_counts()
    return sorted(shares.index[:2])


# --- go / no-go ----------------------------------------------------------------------------------

def _alpha_of(labels: pd.DataFrame, categories=LABELS) -> float:
    return float(KEY._alpha(KEY._counts(labels, categories)))


def _go(data, raters="kept", raters_resampled=True, interval=(2.5, 97.5), resolve="merge", plan_on="low",
        decision=None, resolved_low_from="bootstrap", all_alpha_from="all"):
    found = KEY.diagnosis(data)
    labels = _kept(data) if raters == "kept" else _labels(data)
    first, second = found["confused_pair"]
    merged_labels = tuple(label for label in LABELS if label != second)
    merged = labels.replace({second: first}) if resolve == "merge" else \
        labels[~labels.isin([first, second]).any(axis=1)]
    categories = merged_labels if resolve == "merge" else LABELS
    rows, left_out = KEY.bootstrap_draws(*labels.shape)
    if raters_resampled:
        alphas = KEY._bootstrap_alphas(KEY._one_hot(labels), rows, left_out)
    else:
        alphas = KEY._alpha(KEY._counts(labels)[rows])
    rows_m, left_m = KEY.bootstrap_draws(*merged.shape)
    resolved = KEY._bootstrap_alphas(KEY._one_hot(merged, categories), rows_m, left_m)
    low, high = np.percentile(alphas, interval)
    alpha_resolved = _alpha_of(merged, categories)
    resolved_low = float(np.percentile(resolved, interval[0])) if resolved_low_from == "bootstrap" else alpha_resolved
    plan_alpha = resolved_low if plan_on == "low" else alpha_resolved
    sd = float(np.std(resolved))
    repilot = next((n for n in REPILOT_SIZES if repilot_power(plan_alpha, sd, len(merged), n) >= REPILOT_POWER),
                   REPILOT_SIZES[-1]) if plan_on != "fixed 150" else 150
    answer = {"alpha_all_raters": _alpha_of(_labels(data) if all_alpha_from == "all" else labels),
              "alpha": _alpha_of(labels), "ci_low": float(low), "ci_high": float(high),
              "alpha_if_pair_resolved": alpha_resolved, "resolved_ci_low": resolved_low,
              "repilot_items": repilot}
    answer["decision"] = decision or KEY.decision_rule(answer["ci_low"], answer["resolved_ci_low"])
    return answer


def _point_estimate_decision(data):
    answer = _go(data)
    return {**answer, "decision": "go" if answer["alpha"] >= TENTATIVE_ALPHA else "revise_guideline"}


# --- the plan ------------------------------------------------------------------------------------

def _rebudget(plan: dict, include_overlap=True, include_adjudication=True) -> dict:
    """Recompute the plan's budget from its own numbers (so only the intended mistake remains)."""
    items = sum(entry["n_items"] for entry in plan["slices"].values())
    overlap_items = round(plan["overlap"]["share"] * items)
    labels = items + (overlap_items * (plan["overlap"]["raters_per_item"] - 1) if include_overlap else 0)
    adjudicated = round(overlap_items * plan["adjudication"]["expected_share"])
    labelling, adjudication = round(labels * COST_PER_LABEL, 2), round(adjudicated * ADJUDICATION_COST, 2)
    plan["budget"] = {"items": items, "overlap_items": overlap_items, "labels": labels,
                      "adjudicated_items": adjudicated, "labelling_cost": labelling, "adjudication_cost": adjudication,
                      "total": round(labelling + (adjudication if include_adjudication else 0), 2)}
    return plan


def _plan(data, change) -> dict:
    plan = copy.deepcopy(KEY.collection_plan(data))
    change(plan)
    return plan


def _set_slice(plan: dict, name: str, rate: float | None = None, margin: float = 0.02, natural_only=False,
               rare_share: float | None = None, extra: int = 0) -> None:
    entry = plan["slices"][name]
    if rate is not None:
        entry["planning_rate"] = rate
    if rare_share is not None:
        entry["rare_share"] = rare_share
    entry["required_n"] = required_sample_size(entry["planning_rate"], margin=margin)
    entry["positives_n"] = items_for_positives(entry["rare_share"])
    entry["n_items"] = entry["natural_n"] if natural_only else \
        max(entry["natural_n"], entry["required_n"], entry["positives_n"]) + extra
    entry["augmented_n"] = entry["n_items"] - entry["natural_n"]
    plan["augmentation"] = {s: {"extra_items": e["augmented_n"], "method": "Oversample this surface from recent logs."}
                            for s, e in plan["slices"].items() if e["augmented_n"] > 0}
    _rebudget(plan)


def _pilot_rate_overall(data) -> float:
    """The whole pilot's share needing action: borrowed by a thin surface that should plan with 0.5."""
    labels = _kept(data)
    return float(((labels != "ok").sum(axis=1) > labels.shape[1] / 2).mean())


def _pilot_rare_share(data, surface: str) -> float:
    """A rare label's majority share on one surface of the pilot, read off a few dozen comments (the largest one)."""
    items = data.load("annotation_pilot_items").set_index("item_id")["surface"]
    labels = _kept(data)
    majority = labels.mode(axis=1)[0][items.reindex(labels.index) == surface]
    return float(majority.value_counts(normalize=True).reindex(LABELS[1:], fill_value=0.0).max())


def _one_minus_p(plan: dict) -> None:
    for name, entry in plan["slices"].items():
        if entry["pilot_items"] >= 30:
            _set_slice(plan, name, rate=1 - entry["planning_rate"])


def _placeholder_taxonomy(plan: dict) -> None:
    plan["taxonomy"]["misinformation"] = "TODO: write the definition"


def _same_definition(plan: dict) -> None:
    for label in plan["taxonomy"]:
        plan["taxonomy"][label] = "A comment that breaks the rules."


def _wrong_pair_plan(plan: dict) -> None:
    plan["confused_pair"] = ["ok", "spam"]


def _flag_wrong_rater(plan: dict) -> None:
    flagged = plan["rater_quality"]["flagged_raters"][0]
    plan["rater_quality"]["flagged_raters"] = ["r1" if flagged != "r1" else "r2"]


def _salad() -> str:
    words = "spam off_topic rule examples alpha 0.800 lower bound re-pilot 28 comments guideline hard case promotion"
    return " ".join([words] * 5)


def _low_adjudication(plan: dict) -> None:
    plan["adjudication"]["expected_share"] = 0.05
    _rebudget(plan)


def _full_overlap(plan: dict) -> None:
    plan["overlap"] = {"share": 1.0, "raters_per_item": 3}
    _rebudget(plan)


def _examples_one_side(plan: dict) -> None:
    for example in plan["guideline_examples"]:
        example["label"] = "spam"


KNOWN_WRONG = {
    "raw_agreement": {
        "raters paired with themselves": lambda d: _raw(d, self_pairs=True),
        "agreement with the majority label": lambda d: _raw(d, majority=True),
        "percentages instead of shares": lambda d: _raw(d, scale=100.0),
        "the two keys swapped": lambda d: (lambda r: {"mean_pairwise": r["unanimous_share"],
                                                      "unanimous_share": r["mean_pairwise"]})(_raw(d)),
    },
    "pairwise_kappa": {
        "percent agreement instead of kappa": lambda d: _pairwise(d, "agreement"),
        "linear weights on unordered labels": lambda d: _pairwise(d, "linear weights"),
        "chance agreement from pooled label shares (Scott's pi)": lambda d: _pairwise(d, "pooled shares"),
        "diagonal left at zero": lambda d: _pairwise(d, "zero diagonal"),
        "rater_id left as a column": lambda d: _pairwise(d, "rater as column"),
    },
    "agreement_coefficients": {
        "free-marginal (Randolph) kappa": lambda d: _coefficients(d, fleiss_method="randolph"),
        "mean pairwise Cohen's kappa reported as Fleiss'": lambda d: _coefficients(d, fleiss_from_cohen=True),
        "alpha of the kept raters only": lambda d: _coefficients(d, alpha_from="kept"),
        "alpha with an interval distance on label codes": lambda d: _coefficients(d, level="interval"),
        "band read from raw agreement": lambda d: _coefficients(
            d, band=KEY._band(KEY.raw_agreement(d)["mean_pairwise"])),
    },
    "kappa_paradox": {
        "multi-class kappa in every row": lambda d: _paradox(d, "multi-class kappa"),
        "chance agreement p squared, forgetting (1 - p) squared": lambda d: _paradox(d, "chance as p squared"),
        "prevalence of items' majority labels": lambda d: _paradox(d, "prevalence of majority labels"),
        "unanimous share as percent agreement": lambda d: _paradox(d, "unanimous share as agreement"),
    },
    "diagnosis": {
        "confusion counted over all five raters": lambda d: _diagnosis(d, confusion_from="all", excluded=[]),
        "each pair of raters counted in one order only": lambda d: _diagnosis(d, ordered=False),
        "nobody excluded: the rule not applied": lambda d: _diagnosis(d, excluded=[]),
        "the best rater excluded (highest mean kappa)": lambda d: _diagnosis(d, excluded=[_mean_kappa(d).idxmax()]),
        "the two lowest raters excluded, chosen after looking": lambda d: _diagnosis(
            d, excluded=sorted(_mean_kappa(d).nsmallest(2).index)),
        "confused pair taken as the largest count, not the costliest": lambda d: _diagnosis(
            d, pair=_largest_count_pair(d)),
        "confused pair taken as the two most used labels": lambda d: _diagnosis(d, pair=_most_common_pair(d)),
    },
    "go_no_go": {
        "items resampled, raters never": lambda d: _go(d, raters_resampled=False),
        "90% interval": lambda d: _go(d, interval=(5, 95)),
        "all five raters, careless one included": lambda d: _go(d, raters="all"),
        "only one alpha reported (kept raters as 'all')": lambda d: _go(d, all_alpha_from="kept"),
        "pair resolved by dropping the items raters split on": lambda d: _go(d, resolve="drop"),
        "what-if read from its point estimate": lambda d: _go(d, resolved_low_from="point"),
        "re-pilot sized on the what-if's point estimate": lambda d: _go(d, plan_on="point"),
        "re-pilot of 150 promised without a power calculation": lambda d: _go(d, plan_on="fixed 150"),
        "decision read from the point estimate": _point_estimate_decision,
    },
    "guideline_revision": {
        "one line": lambda d: "Self-promotion is spam (40 items).",
        "no figures": lambda d: " ".join(["Promotion of the author's own channel is spam, even when off topic."] * 8),
        "placeholder text": lambda d: "YOUR ANSWER HERE",
        "keyword salad": lambda d: _salad(),
    },
    "collection_plan": {
        "no augmentation part": lambda d: _plan(d, lambda p: p.pop("augmentation")),
        "no guideline examples": lambda d: _plan(d, lambda p: p.update(guideline_examples=[])),
        "rare surface left at its natural share": lambda d: _plan(d, lambda p: _set_slice(p, "live_chat",
                                                                                            natural_only=True)),
        "thin surface planned at the whole pilot's share": lambda d: _plan(
            d, lambda p: _set_slice(p, "live_chat", rate=_pilot_rate_overall(d))),
        "margin written in percentage points": lambda d: _plan(d, lambda p: [
            p["slices"]["product_reviews"].update(required_n=required_sample_size(
                p["slices"]["product_reviews"]["planning_rate"], margin=2))]),
        "optimistic planning rate": lambda d: _plan(d, lambda p: _set_slice(p, "product_reviews", rate=0.05)),
        "overlap labels left out of the budget": lambda d: _plan(d, lambda p: _rebudget(p, include_overlap=False)),
        "total leaves out adjudication": lambda d: _plan(d, lambda p: _rebudget(p, include_adjudication=False)),
        "every item triple-labelled, over the cap": lambda d: _plan(d, _full_overlap),
        "adjudication planned below the pilot's disagreement": lambda d: _plan(d, _low_adjudication),
        "wrong confused pair": lambda d: _plan(d, _wrong_pair_plan),
        "examples on one side of the pair only": lambda d: _plan(d, _examples_one_side),
        "a careful rater flagged": lambda d: _plan(d, _flag_wrong_rater),
        "n_items inflated beyond every need": lambda d: _plan(d, lambda p: _set_slice(p, "product_reviews",
                                                                                        extra=5000)),
        "planning rate of 1 - p": lambda d: _plan(d, _one_minus_p),
        "placeholder prose in the taxonomy": lambda d: _plan(d, _placeholder_taxonomy),
        "one definition pasted for every label": lambda d: _plan(d, _same_definition),
        "positives planned on a rare share read off 54 pilot comments": lambda d: _plan(
            d, lambda p: _set_slice(p, "seller_questions", rare_share=_pilot_rare_share(d, "seller_questions"))),
        "no positives planned: only the ±2 points": lambda d: _plan(
            d, lambda p: [_set_slice(p, name, rare_share=1.0) for name in list(p["slices"])]),
    },
}
