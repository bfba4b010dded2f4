"""Module 07 — isolating the components of a two-stage recommender: exercise definitions."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from aipmlab.course import Module
from aipmlab.exercises import checks
from aipmlab.exercises.core import DataSource, Exercise, Incorrect, Outcome, Written

CANDIDATES = 30          # videos the candidate generator hands to the ranker (recall is measured at this K)
SHELF = 10               # videos the app shows (NDCG is measured at this K)
RELEVANT_FROM = 1        # a judged relevance of 1 or more makes a video relevant for recall
CATALOGUE_SIZE = 200
VERSIONS = ("old", "new")
STAGES = ("candidate_generator", "ranker")
EFFECTS = ("candidate_generator", "ranker", "interaction", "launch")
INTERVAL_COLUMNS = ["estimate", "ci_low", "ci_high"]
Z = 1.959963984540054    # normal quantile for a 95% two-sided interval
SYSTEMS = {"before": ("old", "old"), "after": ("new", "new")}
DISCOVERY_COLUMNS = ["intra_list_diversity", "novelty", "coverage", "gini"]
LOOP_COLUMNS = ["coverage", "gini"]
# Running a new stage costs serving capacity and an on-call rota; the team prices it, before the experiment, at
# this many clicks per user-week. A stage ships only if it adds more than that on top of what else ships.
STAGE_COST = 1.5
SHIP_OPTIONS = ("neither", "candidate_generator", "ranker", "both")
SHIP_CELLS = {"neither": ("old", "old"), "candidate_generator": ("new", "old"), "ranker": ("old", "new"),
              "both": ("new", "new")}

# Tolerances, each a stated choice: answers rounded to 4 decimals pass, a material error fails.
SHARE_ATOL = 5e-4        # recall, NDCG, diversity, coverage, Gini (rounding to 4 decimals moves them by 5e-5)
CLICKS_ATOL = 5e-3       # effects in clicks per user-week (a material error is a tenth of a click or more)
NOVELTY_ATOL = 5e-3      # novelty in bits


def _experiment(data: DataSource) -> pd.DataFrame:
    return data.load("recsys_experiment")


# --- Exercise 1 --------------------------------------------------------------------------------

def _versions_structure(answer: Any, name: str, hint: int) -> dict:
    checks.require_mapping(answer, VERSIONS, name, hint)
    for version in VERSIONS:
        checks.require_probability(answer[version], f"{name}[{version!r}]", hint)
    return answer


def _recall_structure(answer: Any, data: DataSource) -> None:
    _versions_structure(answer, "candidate_recall", 1)


def _recall_compare(answer: dict, expected: dict) -> None:
    for version in VERSIONS:
        if not checks.numbers_match(answer[version], expected[version], SHARE_ATOL):
            raise Incorrect(f"candidate_recall[{version!r}] is off. For each user, divide the relevant videos the "
                            f"generator put among its {CANDIDATES} candidates by all of that user's relevant videos "
                            f"(relevance {RELEVANT_FROM} or more); then average over users.", 2)


CANDIDATE_RECALL = Exercise(
    key="candidate_recall", number=1, title="Recall@30 of each candidate generator", points=2,
    expects="a dict {'old': recall, 'new': recall}, each the mean over users of recall@30 (a share)",
    hints=(
        "The candidate stage's only job is not to lose what the user would love: the ranker can never show a video "
        "that is not among the candidates. So the question is *what share of each user's relevant videos made it "
        "into the 30 candidates?* Which column tells you a video was a candidate, and which says it is relevant?",
        "Per user: relevant = relevance >= RELEVANT_FROM; hit = relevant and the generator's rank is not missing. "
        "recall = hits / relevant. Average the per-user recalls (every user counts once, however many videos they "
        "like), once for `old_generator_rank` and once for `new_generator_rank`.",
    ),
    check_structure=_recall_structure, compare=_recall_compare,
)


# --- Exercise 2 --------------------------------------------------------------------------------

def _ndcg_structure(answer: Any, data: DataSource) -> None:
    _versions_structure(answer, "ranker_ndcg", 1)


def _ndcg_compare(answer: dict, expected: dict) -> None:
    for version in VERSIONS:
        if not checks.numbers_match(answer[version], expected[version], SHARE_ATOL):
            raise Incorrect(f"ranker_ndcg[{version!r}] is off. On each user's fixed candidates (rows with ranker "
                            f"scores), order by the ranker's score, take the top {SHELF}, gain 2^relevance - 1, "
                            f"discount log2(position + 1); divide by the best order of the same candidates. Leave out "
                            f"users whose candidates hold no relevant video.", 2)


RANKER_NDCG = Exercise(
    key="ranker_ndcg", number=2, title="NDCG@10 of each ranker on fixed candidates", points=2,
    expects="a dict {'old': NDCG@10, 'new': NDCG@10}, each the mean over users (a share)",
    hints=(
        "To judge the ranker alone, hold the candidates fixed: both rankers scored the *same* 30 candidates per user "
        "(the old generator's). NDCG asks: how close is the ranker's top 10 to the best top 10 it could have made "
        "from those candidates? The ideal order is built from the same candidates, not from the whole catalogue: "
        "why would the catalogue's ideal blame the ranker for the generator's misses?",
        "DCG@10 = sum over the top 10 by score of (2^relevance - 1) / log2(position + 1), positions 1..10. IDCG@10 "
        "is the same sum with the candidates sorted by relevance. NDCG = DCG / IDCG per user, averaged over users "
        "with IDCG > 0. `sklearn.metrics.ndcg_score(y_true, y_score, k=10)` uses the gain y_true as given, so pass "
        "2**relevance - 1 to check yourself.",
    ),
    check_structure=_ndcg_structure, compare=_ndcg_compare,
)


# --- Exercise 3 --------------------------------------------------------------------------------

def _effects_structure(answer: Any, data: DataSource) -> None:
    frame = checks.require_frame(answer, "factorial_effects", "effect", EFFECTS, INTERVAL_COLUMNS, 1)
    checks.require_numeric_columns(frame, "factorial_effects", INTERVAL_COLUMNS, hint=1)
    low, estimate, high = (frame[c].astype(float) for c in ("ci_low", "estimate", "ci_high"))
    if ((low > estimate + 1e-9) | (estimate > high + 1e-9)).any():
        raise Incorrect("Each row's interval should contain its estimate: ci_low <= estimate <= ci_high.", 3)
    if (high - low).loc["interaction"] <= (high - low).loc["candidate_generator"] + 1e-9:
        raise Incorrect("The interaction's interval should be wider than a main effect's: it is a difference of two "
                        "differences, so its standard error is twice a main effect's.", 3)


def _effects_compare(answer: pd.DataFrame, expected: pd.DataFrame) -> None:
    messages = {
        "candidate_generator": "The candidate generator's main effect is off: average its lift over both rankers, "
                               "((new, old) - (old, old) + (new, new) - (old, new)) / 2.",
        "ranker": "The ranker's main effect is off: average its lift over both generators.",
        "interaction": "The interaction is off: the ranker's lift with the new generator minus its lift with the old "
                       "one, (new, new) - (new, old) - (old, new) + (old, old).",
        "launch": "The launch effect is off: (new, new) - (old, old), what users of the launch got.",
    }
    for effect in EFFECTS:
        if not checks.numbers_match(answer.at[effect, "estimate"], expected.at[effect, "estimate"], CLICKS_ATOL):
            raise Incorrect(messages[effect], 2)
    for effect in EFFECTS:
        for bound in ("ci_low", "ci_high"):
            if not checks.numbers_match(answer.at[effect, bound], expected.at[effect, bound], CLICKS_ATOL):
                raise Incorrect(f"The interval of {effect!r} is off. Each cell mean has variance s^2 / n (its own "
                                f"sample variance, ddof=1); an effect's variance is the sum of its cells' variances, "
                                f"each times its weight squared; then estimate ± Z x standard error.", 3)


FACTORIAL_EFFECTS = Exercise(
    key="factorial_effects", number=3, title="A 2×2 that swaps one stage at a time", points=3,
    expects="a DataFrame indexed by `effect` (candidate_generator, ranker, interaction, launch) with columns "
            "estimate, ci_low, ci_high, in clicks per user-week",
    hints=(
        "Start from the four cell means (clicks per user-week). A main effect answers 'what does swapping this stage "
        "do, on average over the two versions of the other stage?' The interaction answers 'does the ranker's lift "
        "depend on which generator feeds it?' Write each as a weighted sum of cell means before computing it.",
        "With m[g, r] the mean of cell (generator g, ranker r): candidate_generator = (m[new,old] + m[new,new] - "
        "m[old,old] - m[old,new]) / 2; ranker likewise; interaction = m[new,new] - m[new,old] - m[old,new] + "
        "m[old,old]; launch = m[new,new] - m[old,old].",
        "Cells are independent groups of users, so var(effect) = sum of weight^2 x s^2 / n over the cells, with s^2 "
        "each cell's sample variance (ddof=1). The weights are ±1/2 for a main effect and ±1 for the interaction: "
        "so which interval should be the widest? ci = estimate ± Z x sqrt(var).",
    ),
    check_structure=_effects_structure, compare=_effects_compare,
)


# --- Exercise 4 --------------------------------------------------------------------------------

ATTRIBUTION_KEYS = ("credit_if_swapped_first", "credit_if_swapped_last", "solo_share_of_launch")


def _attribution_structure(answer: Any, data: DataSource) -> None:
    checks.require_mapping(answer, ATTRIBUTION_KEYS, "naive_attribution", 1)
    for key in ATTRIBUTION_KEYS[:2]:
        checks.require_mapping(answer[key], STAGES, f"naive_attribution[{key!r}]", 1)
        for stage in STAGES:
            checks.require_number(answer[key][stage], f"naive_attribution[{key!r}][{stage!r}]", hint=1)
    checks.require_number(answer["solo_share_of_launch"], "naive_attribution['solo_share_of_launch']", 0.0, None, 2)


def _attribution_compare(answer: dict, expected: dict) -> None:
    for key, advice in (("credit_if_swapped_first", "each stage swapped alone into the old system: its cell minus "
                                                    "(old, old)"),
                        ("credit_if_swapped_last", "each stage swapped last, into a system that already has the "
                                                   "other new stage: (new, new) minus the cell without it")):
        for stage in STAGES:
            if not checks.numbers_match(answer[key][stage], expected[key][stage], CLICKS_ATOL):
                raise Incorrect(f"naive_attribution[{key!r}][{stage!r}] is off: it is {advice}.", 1)
    if not checks.numbers_match(answer["solo_share_of_launch"], expected["solo_share_of_launch"], SHARE_ATOL):
        raise Incorrect("solo_share_of_launch is off: add the two swapped-first credits and divide by the launch "
                        "effect, (new, new) - (old, old).", 2)


NAIVE_ATTRIBUTION = Exercise(
    key="naive_attribution", number=4, title="How naive attribution misleads", points=2,
    expects="a dict with 'credit_if_swapped_first' and 'credit_if_swapped_last' (each {stage: clicks}) and "
            "'solo_share_of_launch' (a ratio)",
    hints=(
        "Two teams each claim the launch's lift. The generator team measured its stage swapped in alone; the ranker "
        "team did the same. Another way to credit a stage is to remove it last from the launched system. When does "
        "the order of swapping change a stage's credit?",
        "swapped first: generator = m[new,old] - m[old,old], ranker = m[old,new] - m[old,old]. Swapped last: "
        "generator = m[new,new] - m[old,new], ranker = m[new,new] - m[new,old]. solo_share_of_launch = (the two "
        "swapped-first credits) / (m[new,new] - m[old,old]): above 1 the teams claim more than the launch "
        "delivered.",
    ),
    check_structure=_attribution_structure, compare=_attribution_compare,
)


# --- Exercise 5 --------------------------------------------------------------------------------

def _discovery_structure(answer: Any, data: DataSource) -> None:
    frame = checks.require_frame(answer, "discovery_metrics", "system", SYSTEMS, DISCOVERY_COLUMNS, 1)
    checks.require_numeric_columns(frame, "discovery_metrics", ["intra_list_diversity", "coverage", "gini"], 0.0, 1.0,
                                   hint=1)
    checks.require_numeric_columns(frame, "discovery_metrics", ["novelty"], 0.0, None, hint=2)


def _discovery_compare(answer: pd.DataFrame, expected: pd.DataFrame) -> None:
    advice = {
        "intra_list_diversity": ("intra_list_diversity is off. Per shelf: the share of its 45 pairs of different "
                                 "videos that have different genres; then the mean over shelves.", 1),
        "novelty": ("novelty is off. For each impression, -log2 of the video's share of past impressions "
                    "(past_impressions / their total over the catalogue); the mean over impressions.", 2),
        "coverage": ("coverage is off. Distinct videos shown by that system, over the catalogue size "
                     "(CATALOGUE_SIZE videos, shown or not).", 3),
        "gini": ("gini is off. Count impressions per video over the whole catalogue, zeros included, then the Gini "
                 "coefficient of those counts.", 3),
    }
    for column, (message, hint) in advice.items():
        atol = NOVELTY_ATOL if column == "novelty" else SHARE_ATOL
        for system in SYSTEMS:
            if not checks.numbers_match(answer.at[system, column], expected.at[system, column], atol):
                raise Incorrect(message, hint)


DISCOVERY_METRICS = Exercise(
    key="discovery_metrics", number=5, title="What users discover, before and after", points=3,
    expects="a DataFrame indexed by `system` (before, after) with columns intra_list_diversity, novelty, coverage, "
            "gini",
    hints=(
        "Four questions, one per column. Does one shelf offer a mix (diversity within a list)? Does it show videos "
        "people have not already seen everywhere (novelty)? How much of the catalogue gets shown at all "
        "(coverage)? Are impressions spread out or piled on a few videos (concentration)? 'before' is the cell "
        "(old, old) of `shelves`, 'after' is (new, new).",
        "Diversity: genres on one shelf; for the 10 x 9 ordered pairs, the share with different genres. Novelty: "
        "join past_impressions, share = past / past.sum(), mean of -log2(share) over every impression.",
        "Coverage and Gini look at the whole catalogue: count impressions per video with every video of `items` "
        "(reindex, fill 0). Gini of sorted counts x_1 <= ... <= x_n: sum_i (2i - n - 1) x_i / (n sum x).",
    ),
    check_structure=_discovery_structure, compare=_discovery_compare,
)


# --- Exercise 6 --------------------------------------------------------------------------------

def _loop_structure(answer: Any, data: DataSource) -> None:
    rounds = sorted(data.load("recsys_feedback_rounds")["round"].unique())
    frame = checks.require_frame(answer, "feedback_concentration", "round", rounds, LOOP_COLUMNS, 1)
    checks.require_numeric_columns(frame, "feedback_concentration", LOOP_COLUMNS, 0.0, 1.0, hint=1)


def _loop_compare(answer: pd.DataFrame, expected: pd.DataFrame) -> None:
    answer = answer.set_axis([int(i) for i in answer.index])
    for column, message in (("coverage", "coverage is off in some rounds: the share of the catalogue shown at least "
                                         "once *in that round*, not so far."),
                            ("gini", "gini is off in some rounds: the Gini of that round's impressions over every "
                                     "video of the catalogue, zeros included.")):
        if any(not checks.numbers_match(answer.at[int(r), column], expected.at[r, column], SHARE_ATOL)
               for r in expected.index):
            raise Incorrect(message, 2)


FEEDBACK_CONCENTRATION = Exercise(
    key="feedback_concentration", number=6, title="A feedback loop narrows the catalogue", points=2,
    expects="a DataFrame indexed by `round` (one row per round) with columns coverage and gini",
    hints=(
        "Each round the launched system retrains on the clicks it caused. A video it showed gets clicks, so it "
        "looks better next round, so it is shown more. What would you plot per round to see whether the catalogue "
        "users actually see is shrinking?",
        "Per round: coverage = share of the catalogue with impressions > 0 in that round; gini = the Gini of that "
        "round's impressions over all videos (the same function as in exercise 5).",
    ),
    check_structure=_loop_structure, compare=_loop_compare,
)


# --- Exercise 7 --------------------------------------------------------------------------------

SHIP_KEYS = ("ship", "net_clicks")


def ship_rule(cell_means: dict) -> str:
    """The rule written before the experiment: the option with the most clicks net of STAGE_COST per new stage."""
    net = {option: float(cell_means[cell]) - STAGE_COST * sum(v == "new" for v in cell)
           for option, cell in SHIP_CELLS.items()}
    return max(SHIP_OPTIONS, key=lambda option: net[option])


def _ship_structure(answer: Any, data: DataSource) -> None:
    checks.require_mapping(answer, SHIP_KEYS, "ship_decision", 1)
    if answer["ship"] not in SHIP_OPTIONS:
        raise Incorrect(f"ship_decision['ship'] should be one of {', '.join(map(repr, SHIP_OPTIONS))}.", 1)
    net = checks.require_mapping(answer["net_clicks"], SHIP_OPTIONS, "ship_decision['net_clicks']", 2)
    values = {option: checks.require_number(net[option], f"ship_decision['net_clicks'][{option!r}]", hint=2)
              for option in SHIP_OPTIONS}
    if answer["ship"] != max(SHIP_OPTIONS, key=lambda option: values[option]):
        raise Incorrect("ship_decision['ship'] does not follow the rule applied to your own net_clicks: ship the "
                        "option with the most clicks after paying STAGE_COST for each new stage.", 2)


def _ship_compare(answer: dict, expected: dict) -> None:
    for option in SHIP_OPTIONS:
        if not checks.numbers_match(answer["net_clicks"][option], expected["net_clicks"][option], CLICKS_ATOL):
            raise Incorrect(f"net_clicks[{option!r}] is off: that option's cell mean of clicks per user-week, less "
                            f"STAGE_COST for each new stage it runs.", 2)
    if answer["ship"] != expected["ship"]:
        raise Incorrect("ship is not what the rule gives on these data.", 2)


def _deploy_ship(answer: dict, seed: int) -> Outcome:
    """Run each option for all users of a fresh draw from the world: true clicks net of cost, and discovery."""
    from aipmlab.datasets import two_stage_recommender as simulator

    cells = simulator.population_cells(seed)
    net = {option: simulator.net_value(cells["clicks"], option) for option in SHIP_OPTIONS}
    choice, best = answer["ship"], max(SHIP_OPTIONS, key=net.get)
    chosen, before = cells.loc[SHIP_CELLS[choice]], cells.loc[SHIP_CELLS["neither"]]
    summary = (f"Shipping '{choice}' gives users {chosen['clicks']:.2f} clicks per week "
               f"({chosen['clicks'] - before['clicks']:+.2f} against today), {net[choice]:.2f} after running costs. "
               f"Shelves hold {chosen['intra_list_diversity']:.0%} different-genre pairs (today "
               f"{before['intra_list_diversity']:.0%}) and novelty {chosen['novelty']:.2f} bits (today "
               f"{before['novelty']:.2f}). The best option in hindsight, '{best}', nets {net[best]:.2f}: a regret of "
               f"{max(0.0, net[best] - net[choice]):.2f} clicks per user-week.")
    table = pd.DataFrame({option: {"clicks": cells.at[SHIP_CELLS[option], "clicks"], "net_clicks": net[option],
                                   "intra_list_diversity": cells.at[SHIP_CELLS[option], "intra_list_diversity"],
                                   "novelty": cells.at[SHIP_CELLS[option], "novelty"]}
                          for option in SHIP_OPTIONS}).T.rename_axis("ship")
    return Outcome(choice, net[choice], net[best], "clicks per user-week after running costs", True, summary, table)


SHIP_DECISION = Exercise(
    key="ship_decision", number=7, title="Which stage(s) to ship", points=2,
    expects="a dict {'ship': one of 'neither', 'candidate_generator', 'ranker', 'both', "
            "'net_clicks': {option: clicks per user-week after STAGE_COST per new stage}}",
    hints=(
        "Each option is one cell of the 2×2: shipping only the ranker is the cell (old generator, new ranker). What "
        "does a second new stage add *on top of* the first, and is that more than it costs to run?",
        "net_clicks[option] = the cell mean of that option - STAGE_COST x (number of new stages in it). The rule "
        "written before the experiment ships the option with the largest net_clicks (`ship_rule` applies it to a "
        "dict {(generator, ranker): mean}).",
    ),
    check_structure=_ship_structure, compare=_ship_compare, deploy=_deploy_ship,
)


# --- Exercise 8 --------------------------------------------------------------------------------

MEMO_WRITTEN = Written(manual_points=6, min_words=90)
MIN_SENTENCES = 5


def _memo_structure(answer: Any, data: DataSource) -> None:
    """Beyond length and a figure: both stages named, in sentences, not a list of keywords."""
    lowered = answer.lower()
    if not ("generator" in lowered or "candidate" in lowered) or "rank" not in lowered:
        raise Incorrect("isolation_memo should name both stages: the candidate generator and the ranker.", 1)
    sentences = [part for part in re.split(r"[.!?]+(?:\s|$)", answer) if len(part.split()) >= 4]
    if len(sentences) < MIN_SENTENCES or max(len(part.split()) for part in sentences) > 70:
        raise Incorrect(f"isolation_memo should be written in sentences a launch review can read (at least "
                        f"{MIN_SENTENCES}): what each stage did, how they interact, the side effects, the decision "
                        f"and what would change it.", 1)


ISOLATION_MEMO = Exercise(
    key="isolation_memo", number=8, title="The component-isolation memo", points=0,
    expects="your memo as text in triple quotes",
    hints=(
        "A launch review asks four things: what did the launch do for users (with an interval), which stage earned "
        "it, does crediting each stage separately add up (and why not), and what else changed for users beyond "
        "clicks. End with the decision and what result would make you change it.",
        "Quote the interaction with its interval and say in plain words what it means for the two teams' claims "
        "(exercise 4). For side effects, one number on shelves (diversity or novelty) and one on the loop.",
    ),
    written=MEMO_WRITTEN, check_structure=_memo_structure,
)


MODULE = Module(
    slug="07-isolating-components",
    title="Isolating components",
    purpose="Measure each stage of a two-stage recommender, attribute a launch with a 2×2, and watch what users "
            "discover.",
    minutes=140,
    tables=("recsys_items", "recsys_offline_eval", "recsys_experiment", "recsys_shelves", "recsys_feedback_rounds"),
    exercises=(CANDIDATE_RECALL, RANKER_NDCG, FACTORIAL_EFFECTS, NAIVE_ATTRIBUTION, DISCOVERY_METRICS,
               FEEDBACK_CONCENTRATION, SHIP_DECISION, ISOLATION_MEMO),
)
