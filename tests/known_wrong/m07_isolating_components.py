"""Known-wrong answers for module 07 (isolating components): the mistakes a PM really makes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from aipmlab import answer_key
from aipmlab.exercises.m07_isolating_components import (
    SHELF, SHIP_CELLS, SHIP_OPTIONS, STAGE_COST, SYSTEMS, VERSIONS, Z,
)

KEY = answer_key.load("m07_isolating_components")


def _offline(data) -> pd.DataFrame:
    return data.load("recsys_offline_eval")


# --- recall ----------------------------------------------------------------------------------------

def _recall(data, threshold=1, pooled=False, at=None, precision=False, swap=False) -> dict:
    offline = _offline(data)
    relevant = offline["relevance"] >= threshold
    result = {}
    for version in VERSIONS:
        rank = offline[f"{version}_generator_rank"]
        candidate = rank.notna() if at is None else rank.le(at).fillna(False).astype(bool)
        hit = relevant & candidate
        if pooled:
            result[version] = float(hit.sum() / relevant.sum())
        elif precision:
            by_user = offline["user_id"]
            result[version] = float((hit.groupby(by_user).sum() / candidate.groupby(by_user).sum()).mean())
        else:
            per_user = hit.groupby(offline["user_id"]).sum() / relevant.groupby(offline["user_id"]).sum()
            result[version] = float(per_user.dropna().mean())
    return {"old": result["new"], "new": result["old"]} if swap else result


# --- NDCG ------------------------------------------------------------------------------------------

def _ndcg(data, gain="exponential", ideal_from="candidates", k=SHELF, ascending=False, discount="log") -> dict:
    offline = _offline(data)
    result = {}
    for version in VERSIONS:
        values = []
        for _, user in offline.groupby("user_id"):
            fixed = user.dropna(subset=["old_ranker_score"])
            g = {"exponential": 2.0 ** fixed["relevance"] - 1, "linear": fixed["relevance"].astype(float),
                 "no minus one": 2.0 ** fixed["relevance"]}[gain]
            order = fixed[f"{version}_ranker_score"].to_numpy().argsort(kind="stable")
            order = order if ascending else order[::-1]
            weights = (1 / np.log2(np.arange(2, k + 2))) if discount == "log" else 1 / np.arange(1, k + 1)
            top = g.to_numpy()[order][:k]
            dcg = float((top * weights[:top.size]).sum())
            pool = user if ideal_from == "catalogue" else fixed
            pool_gain = {"exponential": 2.0 ** pool["relevance"] - 1, "linear": pool["relevance"].astype(float),
                         "no minus one": 2.0 ** pool["relevance"]}[gain]
            best = np.sort(pool_gain.to_numpy())[::-1][:k]
            ideal = float((best * weights[:best.size]).sum())
            if ideal > 0:
                values.append(dcg / ideal)
        result[version] = float(np.mean(values))
    return result


# --- the 2×2 ---------------------------------------------------------------------------------------

def _stats(data) -> pd.DataFrame:
    return KEY.cell_stats(data.load("recsys_experiment"))


def _effects(data, main="averaged", interaction_sign=1.0, spread="se", interaction_weight=1.0, z=Z) -> pd.DataFrame:
    stats = _stats(data)
    m, var, n = stats["mean"], stats["var"], stats["count"]
    frame = KEY.effects_from_cells(stats)
    if main == "swapped alone":
        frame.loc["candidate_generator", "estimate"] = m["new", "old"] - m["old", "old"]
        frame.loc["ranker", "estimate"] = m["old", "new"] - m["old", "old"]
    frame.loc["interaction", "estimate"] *= interaction_sign
    for effect, weights in KEY.EFFECT_WEIGHTS.items():
        scale = interaction_weight if effect == "interaction" else 1.0
        total = sum((w * scale) ** 2 * var[cell] / (1 if spread == "sd" else n[cell]) for cell, w in weights.items())
        estimate = frame.loc[effect, "estimate"]
        frame.loc[effect, ["ci_low", "ci_high"]] = [estimate - z * np.sqrt(total), estimate + z * np.sqrt(total)]
    return frame


def _effects_in_percent(data) -> pd.DataFrame:
    """Lifts as a percentage of control, a different unit from clicks per user-week."""
    frame = KEY.factorial_effects(data)
    return frame * 100 / _stats(data).at[("old", "old"), "mean"]


# --- attribution -----------------------------------------------------------------------------------

def _attribution(data, mistake: str) -> dict:
    m = _stats(data)["mean"]
    right = KEY.attribution_from_means(m)
    launch = m["new", "new"] - m["old", "old"]
    if mistake == "main effects as credits":
        effects = KEY.factorial_effects(data)["estimate"]
        main = {stage: float(effects[stage]) for stage in ("candidate_generator", "ranker")}
        right["credit_if_swapped_first"] = dict(main)
    elif mistake == "first and last swapped":
        right["credit_if_swapped_first"], right["credit_if_swapped_last"] = (right["credit_if_swapped_last"],
                                                                             right["credit_if_swapped_first"])
    elif mistake == "share inverted":
        right["solo_share_of_launch"] = float(launch / sum(right["credit_if_swapped_first"].values()))
    elif mistake == "share from the swapped-last credits":
        right["solo_share_of_launch"] = float(sum(right["credit_if_swapped_last"].values()) / launch)
    return right


# --- discovery -------------------------------------------------------------------------------------

def _discovery(data, mistake: str) -> pd.DataFrame:
    shelves, items = data.load("recsys_shelves"), data.load("recsys_items")
    right = KEY.discovery_metrics(data)
    info = items.set_index("item_id")
    for system, (generator, ranker) in SYSTEMS.items():
        mine = shelves[(shelves["candidate_generator"] == generator) & (shelves["ranker"] == ranker)]
        counts = mine["item_id"].value_counts()
        if mistake == "natural log novelty":
            share = info["past_impressions"] / info["past_impressions"].sum()
            right.loc[system, "novelty"] = float(-np.log(mine["item_id"].map(share)).mean())
        elif mistake == "novelty from popularity on the shelves":
            share = counts / counts.sum()
            right.loc[system, "novelty"] = float(-np.log2(mine["item_id"].map(share)).mean())
        elif mistake == "coverage over impressions":
            right.loc[system, "coverage"] = float(counts.size / len(mine))
        elif mistake == "gini of shown videos only":
            right.loc[system, "gini"] = float(KEY.gini(counts.to_numpy()))
        elif mistake == "self-pairs counted as similar":
            genres = mine.sort_values(["user_id", "position"])["item_id"].map(info["genre"]).to_numpy()
            genres = genres.reshape(-1, SHELF)
            same = (genres[:, :, None] == genres[:, None, :]).sum(axis=(1, 2))
            right.loc[system, "intra_list_diversity"] = float(1 - (same / SHELF**2).mean())
    if mistake == "before and after swapped":
        right = right.rename(index={"before": "after", "after": "before"}).loc[list(SYSTEMS)]
    return right


# --- feedback loop ---------------------------------------------------------------------------------

def _loop(data, mistake: str) -> pd.DataFrame:
    rounds = data.load("recsys_feedback_rounds")
    table = rounds.pivot(index="round", columns="item_id", values="impressions")
    right = KEY.feedback_concentration(data)
    if mistake == "cumulative coverage":
        right["coverage"] = (table.cumsum() > 0).mean(axis=1)
    elif mistake == "gini of shown videos only":
        right["gini"] = [float(KEY.gini(row[row > 0])) for row in table.to_numpy()]
    elif mistake == "share of impressions instead of videos":
        right["coverage"] = (table > 0).sum(axis=1) / table.sum(axis=1)
    return right


# --- ship decision ---------------------------------------------------------------------------------

def _ship(data, mistake: str) -> dict:
    m = _stats(data)["mean"]
    right = KEY.ship_decision_of(m)
    if mistake == "running cost ignored":
        net = {option: float(m[SHIP_CELLS[option]]) for option in SHIP_OPTIONS}
    elif mistake == "cost charged once for both stages":
        net = {option: float(m[SHIP_CELLS[option]] - STAGE_COST * (any(v == "new" for v in SHIP_CELLS[option])))
               for option in SHIP_OPTIONS}
    elif mistake == "lift over control instead of clicks":
        net = {option: float(m[SHIP_CELLS[option]] - m["old", "old"]
                             - STAGE_COST * sum(v == "new" for v in SHIP_CELLS[option])) for option in SHIP_OPTIONS}
    else:
        net = right["net_clicks"]
    ship = max(SHIP_OPTIONS, key=lambda option: net[option])
    if mistake == "the stage with the larger main effect alone":
        effects = KEY.factorial_effects(data)["estimate"]
        ship = max(("candidate_generator", "ranker"), key=lambda stage: effects[stage])
    elif mistake == "whatever the offline metrics favour":
        ship = "candidate_generator"
    return {"ship": ship, "net_clicks": net}


def _salad() -> str:
    words = ("candidate generator ranker interaction 2x2 main effect 6.6 clicks interval diversity novelty coverage "
             "gini feedback loop ship both")
    return " ".join([words] * 5)


KNOWN_WRONG = {
    "candidate_recall": {
        "recall pooled over all users' relevant videos": lambda d: _recall(d, pooled=True),
        "precision of the candidates instead of recall": lambda d: _recall(d, precision=True),
        "recall@10: only the first ten candidates": lambda d: _recall(d, at=SHELF),
        "only highly relevant videos count": lambda d: _recall(d, threshold=2),
        "old and new swapped": lambda d: _recall(d, swap=True),
        "percentages instead of shares": lambda d: {v: 100 * r for v, r in _recall(d).items()},
    },
    "ranker_ndcg": {
        "linear gain instead of 2^relevance - 1": lambda d: _ndcg(d, gain="linear"),
        "ideal order from the whole catalogue, blaming the ranker for the generator": lambda d: _ndcg(
            d, ideal_from="catalogue"),
        "NDCG@30: every candidate, not the shelf": lambda d: _ndcg(d, k=30),
        "gain 2^relevance, without the minus one": lambda d: _ndcg(d, gain="no minus one"),
        "lowest score ranked first": lambda d: _ndcg(d, ascending=True),
        "reciprocal-rank discount": lambda d: _ndcg(d, discount="reciprocal"),
    },
    "factorial_effects": {
        "main effects from one swap, not averaged": lambda d: _effects(d, main="swapped alone"),
        "interaction with the wrong sign": lambda d: _effects(d, interaction_sign=-1.0),
        "interval from the standard deviation, not the standard error": lambda d: _effects(d, spread="sd"),
        "interaction interval as narrow as a main effect's": lambda d: _effects(d, interaction_weight=0.5),
        "90% intervals": lambda d: _effects(d, z=1.6448536269514722),
        "lifts in percent of control": _effects_in_percent,
    },
    "naive_attribution": {
        "main effects reported as solo credits": lambda d: _attribution(d, "main effects as credits"),
        "swapped first and last confused": lambda d: _attribution(d, "first and last swapped"),
        "launch over solo credits": lambda d: _attribution(d, "share inverted"),
        "share from the swapped-last credits": lambda d: _attribution(d, "share from the swapped-last credits"),
    },
    "discovery_metrics": {
        "novelty in nats (natural log)": lambda d: _discovery(d, "natural log novelty"),
        "novelty from popularity on the shelves themselves": lambda d: _discovery(
            d, "novelty from popularity on the shelves"),
        "coverage over impressions, not the catalogue": lambda d: _discovery(d, "coverage over impressions"),
        "Gini of the shown videos only": lambda d: _discovery(d, "gini of shown videos only"),
        "self-pairs counted in diversity": lambda d: _discovery(d, "self-pairs counted as similar"),
        "before and after swapped": lambda d: _discovery(d, "before and after swapped"),
    },
    "feedback_concentration": {
        "cumulative coverage, shown so far": lambda d: _loop(d, "cumulative coverage"),
        "Gini of the shown videos only": lambda d: _loop(d, "gini of shown videos only"),
        "distinct videos over impressions": lambda d: _loop(d, "share of impressions instead of videos"),
    },
    "ship_decision": {
        "running cost ignored": lambda d: _ship(d, "running cost ignored"),
        "cost charged once for both stages": lambda d: _ship(d, "cost charged once for both stages"),
        "lift over control instead of clicks": lambda d: _ship(d, "lift over control instead of clicks"),
        "the stage with the larger main effect, alone": lambda d: _ship(
            d, "the stage with the larger main effect alone"),
        "whatever the offline metrics favour": lambda d: _ship(d, "whatever the offline metrics favour"),
    },
    "isolation_memo": {
        "one line": lambda d: "Ship both: the launch adds 6.6 clicks per user-week.",
        "no figures": lambda d: " ".join(["The ranker and the candidate generator both helped, and they interact."]
                                         * 10),
        "placeholder text": lambda d: "YOUR ANSWER HERE",
        "keyword salad": lambda d: _salad(),
    },
}

