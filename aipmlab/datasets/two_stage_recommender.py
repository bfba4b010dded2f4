"""Synthetic two-stage recommender for module 07 (isolating components): a world from the seed, then draws.

A video app's home shelf is filled in two stages (Covington et al., 2016): a *candidate generator*
picks CANDIDATES videos out of the catalogue for each user, then a *ranker* orders them and the app
shows the top SHELF. A launch replaced both stages at once. The learner receives an offline
evaluation (candidate lists, ranker scores on fixed candidates, graded relevance judgements), a 2×2
experiment that swapped one stage at a time, the shelves a sample of its users saw, and the
impressions of a simulated feedback loop in which the launched system retrains on its own clicks.

The *world* (`world(seed)`) holds what is planted and never reaches a file: each user's true taste,
each video's true quality, which videos are *clickbait* (they look appealing to a model trained on
clicks and disappoint), and how each stage scores. Seed-varying plants: which stage carries the
launch's lift (an old generator blind to some genres, or a noisier old ranker), whether the two new stages fix the same problem
(clickbait: *substitutes*, a negative interaction) or need each other (long-tail videos only the new
generator retrieves and only the new ranker does not bury: *complements*, a positive interaction),
and how strongly the retrained system feeds its own clicks back (how fast the loop narrows).
`generate(seed)` is the canonical draw.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from aipmlab.datasets.family import DatasetFamily

CANONICAL_SEED = 2024

N_ITEMS = 200
GENRES = ("comedy", "cooking", "gaming", "music", "news", "science", "sport", "travel")
CANDIDATES = 30          # videos the candidate generator hands to the ranker
SHELF = 10               # videos the app shows, in ranked order
VERSIONS = ("old", "new")
CELLS = tuple((c, r) for c in VERSIONS for r in VERSIONS)  # (candidate generator, ranker)

OFFLINE_USERS = 200      # users with relevance judgements in the offline evaluation
EXPERIMENT_USERS = 1500  # users per cell of the 2×2 experiment
SHOWN_SAMPLE = 150       # users per cell whose shelves are logged in full
SESSIONS = 6             # home-shelf visits per user during the experiment week
LOOP_USERS = 400
LOOP_ROUNDS = 10

BLIND_GENRES = 2         # genres the old generator never retrieves, when the generator carries the lift
BLIND_PENALTY = 20.0

# Graded relevance, read from how far a video's true utility for a user sits above the user's typical video.
RELEVANCE_CUTS = (1.2, 1.8, 2.4)   # utility above these: 1, 2, 3


@dataclass(frozen=True)
class World:
    """The planted parameters of one seed: catalogue, how each stage scores, how strong the feedback loop is."""

    seed: int
    genre: np.ndarray           # (items,) genre index
    quality: np.ndarray         # (items,) true quality, part of every user's utility
    log_popularity: np.ndarray  # (items,) log of past impressions (what popularity features see)
    bait: np.ndarray            # (items,) bool: clickbait (looks appealing to a clicks-trained model, disappoints)
    cold: np.ndarray            # (items,) bool: long-tail videos the old ranker has too little history to score
    blind: np.ndarray           # (items,) bool: videos of genres the old generator never retrieves
    regime: str                 # "substitutes" (both new stages fix clickbait) or "complements" (long-tail videos)
    lift_stage: str             # "candidates" or "ranker": whose own accuracy gain is larger
    noise: dict                 # (stage, version) -> score noise
    popularity_weight: dict     # (stage, version) -> weight on log popularity
    bait_appeal: dict           # (stage, version) -> pull of clickbait on a clicks-trained stage
    cold_penalty: float         # how far the old ranker pushes down videos it has no history for
    feedback_weight: float      # how much the retrained system leans on its own past clicks

    @property
    def n_items(self) -> int:
        """Catalogue size."""
        return self.genre.size


def world(seed: int) -> World:
    """The planted parameters for `seed`."""
    rng = np.random.default_rng([seed, 707])
    genre = rng.integers(0, len(GENRES), N_ITEMS)
    quality = rng.normal(0.0, 0.5, N_ITEMS)
    log_popularity = rng.normal(0.0, 1.0, N_ITEMS) + 0.6 * quality  # popular videos are a little better on average
    bait = np.zeros(N_ITEMS, dtype=bool)
    bait[rng.choice(N_ITEMS, N_ITEMS // 8, replace=False)] = True
    quality = np.where(bait, quality - 1.0, quality)
    log_popularity = np.where(bait, log_popularity + 0.8, log_popularity)
    cold = log_popularity < np.median(log_popularity)
    regime = ("substitutes", "complements")[rng.integers(2)]
    lift_stage = ("candidates", "ranker")[rng.integers(2)]
    noise = {("candidates", "old"): 1.0, ("candidates", "new"): 1.0, ("ranker", "old"): 0.6, ("ranker", "new"): 0.6}
    popularity = {key: 0.0 for key in noise}
    appeal = {key: 0.0 for key in noise}
    cold_penalty = 0.0
    if regime == "substitutes":  # both old stages chase clickbait; either new stage alone removes most of it
        appeal["candidates", "old"] = appeal["ranker", "old"] = rng.uniform(2.2, 2.8)
    else:  # the old generator retrieves popular videos, the old ranker buries the tail it has no history for
        popularity["candidates", "old"] = rng.uniform(2.6, 3.2)
        cold_penalty = rng.uniform(8.0, 10.0)
        quality = np.where(cold, quality + rng.uniform(0.4, 0.6), quality)  # hidden gems in the long tail
    # The lift stage's own gain: the old generator never retrieves some genres (it was trained before they took
    # off), or the old ranker is noisier.
    blind = np.zeros(N_ITEMS, dtype=bool)
    if lift_stage == "candidates":
        blind = np.isin(genre, rng.choice(len(GENRES), BLIND_GENRES, replace=False))
    else:
        noise["ranker", "old"] = rng.uniform(1.8, 2.2)
    feedback = float(rng.uniform(0.15, 0.6))
    return World(seed, genre, quality.astype(np.float32), log_popularity.astype(np.float32), bait, cold, blind, regime,
                 lift_stage, noise, popularity, appeal, cold_penalty, feedback)


@lru_cache(maxsize=64)
def cached_world(seed: int) -> World:
    """world(seed), computed once per process."""
    return world(seed)


def fresh_rng(seed: int, purpose: str) -> np.random.Generator:
    """A generator for fresh draws from the world of `seed`, independent of the learner's draw."""
    return np.random.default_rng([seed, sum(map(ord, purpose)) + 20_000])


# --- users, utility and the two stages -------------------------------------------------------------------------

def unit_noise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Centred noise of variance 1 (uniform: as good as normal here, and four times cheaper to draw)."""
    noise = rng.random(shape, dtype=np.float32)
    noise -= np.float32(0.5)
    noise *= np.float32(np.sqrt(12.0))
    return noise


def utility(world_: World, rng: np.random.Generator, n_users: int) -> np.ndarray:
    """True utility (users × items): taste for the video's genre, the video's quality, and a personal match."""
    taste = rng.normal(0.0, 1.0, (n_users, len(GENRES)))
    taste = taste.astype(np.float32)
    return taste[:, world_.genre] + world_.quality[None, :] + 0.6 * unit_noise(rng, (n_users, world_.n_items))


def relevance(world_: World, true_utility: np.ndarray) -> np.ndarray:
    """Graded relevance 0–3 (users × items) from utility above the user's mean."""
    centred = true_utility - true_utility.mean(axis=1, keepdims=True)
    return np.searchsorted(np.array(RELEVANCE_CUTS), centred, side="right").astype(np.int8)


def stage_scores(world_: World, stage: str, version: str, true_utility: np.ndarray, rng: np.random.Generator,
                 learned_boost: np.ndarray | None = None) -> np.ndarray:
    """What one stage believes about every user × item: utility, plus its biases, its noise, and (in the feedback
    loop) the boost its own past clicks give each item."""
    key = (stage, version)
    cold_penalty = world_.cold_penalty if key == ("ranker", "old") else 0.0
    blind_penalty = BLIND_PENALTY if key == ("candidates", "old") else 0.0
    biases = (world_.popularity_weight[key] * world_.log_popularity + world_.bait_appeal[key] * world_.bait
              - cold_penalty * world_.cold - blind_penalty * world_.blind)
    if learned_boost is not None:
        biases = biases + learned_boost
    scores = unit_noise(rng, true_utility.shape)
    scores *= np.float32(world_.noise[key])
    scores += true_utility
    scores += biases.astype(np.float32)[None, :]
    return scores


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Item indices of the k highest scores per row, best first."""
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1)
    return np.take_along_axis(part, order, axis=1)


def shelves(candidates: np.ndarray, ranker_scores: np.ndarray) -> np.ndarray:
    """The SHELF videos shown (users × SHELF), ranked by the ranker among each user's candidates."""
    on_candidates = np.take_along_axis(ranker_scores, candidates, axis=1)
    best = top_k(on_candidates, SHELF)
    return np.take_along_axis(candidates, best, axis=1)


EXAMINE = 1.0 / np.log2(np.arange(2, SHELF + 2))  # the chance a user looks at each shelf position


def click_probability(shown_utility: np.ndarray) -> np.ndarray:
    """Chance of a click on each shown video (users × SHELF): it must be seen, then be worth it."""
    return EXAMINE[None, :] / (1.0 + np.exp(-(shown_utility - 2.2)))


def serve(world_: World, true_utility: np.ndarray, rng: np.random.Generator, generator: str, ranker: str,
          learned_boost: np.ndarray | None = None) -> np.ndarray:
    """Shelves (users × SHELF) under one candidate generator and one ranker."""
    candidates = top_k(stage_scores(world_, "candidates", generator, true_utility, rng, learned_boost), CANDIDATES)
    return shelves(candidates, stage_scores(world_, "ranker", ranker, true_utility, rng, learned_boost))


# --- the draw the learner receives ---------------------------------------------------------------------------

@dataclass(frozen=True)
class RecommenderTruth:
    """What one draw knows and its files do not: the planted regime, lift stage, loop strength, clickbait."""

    regime: str
    lift_stage: str
    feedback_weight: float
    bait_items: tuple[str, ...]


@dataclass(frozen=True)
class DrawArrays:
    """One draw as arrays, before it becomes tables (the truth tests read these, to stay fast)."""

    relevance: np.ndarray        # offline users × items, graded 0-3
    generator_rank: dict         # version -> offline users × items, 1..CANDIDATES, 0 when not a candidate
    ranker_score: dict           # version -> offline users × items, scores (read on the old generator's candidates)
    clicks: dict                 # cell -> clicks per user of that cell
    shelves: dict                # cell -> (users × SHELF) item indices
    loop_impressions: np.ndarray  # rounds × items


def item_ids(n: int) -> list[str]:
    """Video ids v001, v002, ..."""
    return [f"v{i:03d}" for i in range(1, n + 1)]


def offline_arrays(world_: World, rng: np.random.Generator, n_users: int = OFFLINE_USERS
                   ) -> tuple[np.ndarray, dict, dict]:
    """Offline evaluation of `n_users` fresh users: graded relevance, each generator's ranks, each ranker's scores."""
    true_utility = utility(world_, rng, n_users)
    graded = relevance(world_, true_utility)
    users = np.arange(n_users)[:, None]
    ranks = {}
    for version in VERSIONS:
        candidates = top_k(stage_scores(world_, "candidates", version, true_utility, rng), CANDIDATES)
        ranks[version] = np.zeros(graded.shape, dtype=np.int16)
        ranks[version][users, candidates] = np.arange(1, CANDIDATES + 1)
    scores = {version: stage_scores(world_, "ranker", version, true_utility, rng).astype(np.float64).round(6)
              for version in VERSIONS}
    return graded, ranks, scores


def _experiment(world_: World, rng: np.random.Generator, users_per_cell: int) -> tuple[dict, dict]:
    clicks, shown = {}, {}
    for cell in CELLS:
        true_utility = utility(world_, rng, users_per_cell)
        shown[cell] = serve(world_, true_utility, rng, *cell)
        p = click_probability(np.take_along_axis(true_utility, shown[cell], axis=1))
        clicks[cell] = rng.binomial(SESSIONS, p).sum(axis=1)
    return clicks, shown


def feedback_loop(world_: World, rng: np.random.Generator, n_users: int = LOOP_USERS,
                  rounds: int = LOOP_ROUNDS) -> np.ndarray:
    """Impressions per round and item (rounds × items): the launched system retrains on its own clicks each round."""
    clicks_so_far = np.zeros(world_.n_items)
    impressions = np.zeros((rounds, world_.n_items), dtype=np.int64)
    for round_ in range(rounds):
        true_utility = utility(world_, rng, n_users)
        learned = world_.feedback_weight * np.log1p(clicks_so_far)
        shown = serve(world_, true_utility, rng, "new", "new", learned_boost=learned)
        impressions[round_] = np.bincount(shown.ravel(), minlength=world_.n_items)
        p = click_probability(np.take_along_axis(true_utility, shown, axis=1))
        clicked = rng.random(p.shape) < p
        clicks_so_far += np.bincount(shown[clicked], minlength=world_.n_items)
    return impressions


def draw_arrays(world_: World, rng: np.random.Generator) -> DrawArrays:
    """Every part of one draw, as arrays: offline evaluation, the 2×2, logged shelves, the feedback loop."""
    graded, ranks, scores = offline_arrays(world_, rng)
    clicks, shown = _experiment(world_, rng, EXPERIMENT_USERS)
    return DrawArrays(graded, ranks, scores, clicks, {cell: rows[:SHOWN_SAMPLE] for cell, rows in shown.items()},
                      feedback_loop(world_, rng))


def _offline_frame(arrays: DrawArrays, ids: np.ndarray) -> pd.DataFrame:
    graded, old_rank, new_rank = arrays.relevance, arrays.generator_rank["old"], arrays.generator_rank["new"]
    rows, cols = np.nonzero((graded > 0) | (old_rank > 0) | (new_rank > 0))
    on_fixed = old_rank[rows, cols] > 0  # both rankers are scored on the old generator's candidates
    frame = pd.DataFrame({"user_id": np.char.add("e", np.char.zfill((rows + 1).astype(str), 3)), "item_id": ids[cols],
                          "relevance": graded[rows, cols]})
    for version in VERSIONS:
        rank = arrays.generator_rank[version][rows, cols]
        frame[f"{version}_generator_rank"] = pd.array(rank, dtype="Int16").astype("Int16")
        frame[f"{version}_generator_rank"] = frame[f"{version}_generator_rank"].mask(rank == 0)
    for version in VERSIONS:
        frame[f"{version}_ranker_score"] = np.where(on_fixed, arrays.ranker_score[version][rows, cols], np.nan)
    return frame


def _experiment_frames(arrays: DrawArrays, ids: np.ndarray, rng: np.random.Generator) -> tuple[pd.DataFrame,
                                                                                                  pd.DataFrame]:
    users = np.char.add("x", np.char.zfill((rng.permutation(EXPERIMENT_USERS * len(CELLS)) + 1).astype(str), 4))
    rows, shown_rows = [], []
    for index, (generator, ranker) in enumerate(CELLS):
        user = users[index * EXPERIMENT_USERS:(index + 1) * EXPERIMENT_USERS]
        rows.append(pd.DataFrame({"user_id": user, "candidate_generator": generator, "ranker": ranker,
                                  "clicks": arrays.clicks[generator, ranker]}))
        sample = arrays.shelves[generator, ranker]
        shown_rows.append(pd.DataFrame({"user_id": np.repeat(user[:len(sample)], SHELF),
                                        "candidate_generator": generator, "ranker": ranker,
                                        "position": np.tile(np.arange(1, SHELF + 1), len(sample)),
                                        "item_id": ids[sample.ravel()]}))
    experiment = pd.concat(rows).sort_values("user_id", kind="stable").reset_index(drop=True)
    shelves = pd.concat(shown_rows).sort_values(["user_id", "position"], kind="stable").reset_index(drop=True)
    return experiment, shelves


def draw(world_: World, rng: np.random.Generator) -> tuple[dict[str, pd.DataFrame], RecommenderTruth]:
    """Every module 07 table from the world, and the draw's truth."""
    ids = np.array(item_ids(world_.n_items))
    arrays = draw_arrays(world_, rng)
    items = pd.DataFrame({"item_id": ids, "genre": np.array(GENRES)[world_.genre],
                          "past_impressions": past_impressions(world_)})
    experiment, shelves = _experiment_frames(arrays, ids, rng)
    rounds = pd.DataFrame({"round": np.repeat(np.arange(1, LOOP_ROUNDS + 1), world_.n_items),
                           "item_id": np.tile(ids, LOOP_ROUNDS), "impressions": arrays.loop_impressions.ravel()})
    truth = RecommenderTruth(world_.regime, world_.lift_stage, world_.feedback_weight, tuple(ids[world_.bait]))
    return {"recsys_items": items, "recsys_offline_eval": _offline_frame(arrays, ids), "recsys_experiment": experiment,
            "recsys_shelves": shelves, "recsys_feedback_rounds": rounds}, truth


def generate(seed: int = CANONICAL_SEED) -> tuple[dict[str, pd.DataFrame], RecommenderTruth]:
    """The canonical draw for a seed: the module 07 tables and the planted truth."""
    return draw(world(seed), np.random.default_rng(seed))


FAMILY = DatasetFamily("two_stage_recommender", generate, CANONICAL_SEED,
                       ("recsys_items", "recsys_offline_eval", "recsys_experiment", "recsys_shelves",
                        "recsys_feedback_rounds"))


# --- population quantities: what the truth tests and `deploy` compare against --------------------------------

POPULATION_USERS = 800  # users served under every cell with the same draws (common random numbers)
STAGE_COST = 1.5        # clicks per user-week a new stage must add to pay for running it (set by the team)


def gini(counts: np.ndarray) -> np.ndarray | float:
    """Gini coefficient of impressions over the whole catalogue (last axis), 0 = even, near 1 = one video."""
    ordered = np.sort(counts, axis=-1).astype(float)
    n = ordered.shape[-1]
    rank = np.arange(1, n + 1)
    return (2 * (rank * ordered).sum(axis=-1) / (n * ordered.sum(axis=-1))) - (n + 1) / n


def past_impression_share(world_: World) -> np.ndarray:
    """Each video's share of past impressions, from the rounded counts in the items table."""
    past = past_impressions(world_)
    return past / past.sum()


def past_impressions(world_: World) -> np.ndarray:
    """Past impressions per video, as the items table holds them."""
    return np.round(200 * np.exp(world_.log_popularity)).astype(np.int64)


def discovery(shown: np.ndarray, world_: World) -> dict[str, float]:
    """Intra-list diversity (by genre), novelty, catalogue coverage and Gini of a set of shelves (users × SHELF)."""
    genres = world_.genre[shown]
    same = (genres[:, :, None] == genres[:, None, :]).sum(axis=(1, 2)) - SHELF
    counts = np.bincount(shown.ravel(), minlength=world_.n_items)
    return {"intra_list_diversity": float(1 - (same / (SHELF * (SHELF - 1))).mean()),
            "novelty": float(-np.log2(past_impression_share(world_)[shown]).mean()),
            "coverage": float((counts > 0).mean()), "gini": float(gini(counts))}


@lru_cache(maxsize=256)
def population_cells(seed: int, n_users: int = POPULATION_USERS) -> pd.DataFrame:
    """Per cell (candidate generator, ranker): true expected clicks per user-week, and discovery at scale."""
    world_ = cached_world(seed)
    rng = fresh_rng(seed, "population")
    true_utility = utility(world_, rng, n_users)
    state = rng.bit_generator.state
    rows = {}
    for generator, ranker in CELLS:
        rng.bit_generator.state = state  # the same users and the same score noise in every cell
        shown = serve(world_, true_utility, rng, generator, ranker)
        clicks = SESSIONS * click_probability(np.take_along_axis(true_utility, shown, axis=1)).sum(axis=1)
        rows[(generator, ranker)] = {"clicks": float(clicks.mean()), **discovery(shown, world_)}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis(["candidate_generator", "ranker"])


def true_effects(seed: int) -> dict[str, float]:
    """Main effects (averaged over the other stage), interaction and launch lift of true expected clicks."""
    m = population_cells(seed)["clicks"]
    return {"candidate_generator": (m["new", "old"] + m["new", "new"] - m["old", "old"] - m["old", "new"]) / 2,
            "ranker": (m["old", "new"] + m["new", "new"] - m["old", "old"] - m["new", "old"]) / 2,
            "interaction": (m["new", "new"] - m["old", "new"]) - (m["new", "old"] - m["old", "old"]),
            "launch": m["new", "new"] - m["old", "old"]}


SHIP_OPTIONS = {"neither": ("old", "old"), "candidate_generator": ("new", "old"), "ranker": ("old", "new"),
                "both": ("new", "new")}


def net_value(clicks: pd.Series | dict, option: str) -> float:
    """Clicks per user-week of a ship option, less STAGE_COST for each new stage it runs."""
    cell = SHIP_OPTIONS[option]
    return float(clicks[cell]) - STAGE_COST * sum(version == "new" for version in cell)
