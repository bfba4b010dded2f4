"""Synthetic annotation pilot for module 03 (data collection plan): a world drawn from the seed, then draws from it.

A community site wants a classifier that sorts user comments into five moderation labels. Before
paying for 50,000 labels, the team ran a pilot: five raters labelled the same 300 comments. One
table lists the comments (with the surface they were posted on), the other every rater's label.

The *world* (`world(seed)`) holds what is planted, and none of it reaches a file: each surface's true
mix of comments; one kind of comment the first guideline does not settle, so careful raters split
between two labels with a personal lean (which kind, hence which label pair, varies with the seed);
one careless rater who labels at random half of the time (which one varies); and a dominant `ok`
class. A *draw* (`draw(world, rng, ...)`) samples comments and ratings from it, under the pilot
guideline (v1) or the revised one (v2, where the open kind gets its intended label like any other).
`generate(seed)` is the canonical draw: the pilot the learner receives.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from aipmlab.datasets.family import DatasetFamily

CANONICAL_SEED = 2024

LABELS = ("ok", "spam", "off_topic", "harassment", "misinformation")
RARE_LABELS = LABELS[1:]
RATERS = ("r1", "r2", "r3", "r4", "r5")
SURFACES = ("product_reviews", "community_forum", "seller_questions", "live_chat")

# The pilot drew comments from each surface in proportion to its share of traffic.
SURFACE_PILOT_ITEMS = {"product_reviews": 150, "community_forum": 84, "seller_questions": 54, "live_chat": 12}

# Kinds of comment the first guideline does not settle: for each, the two labels careful raters split
# between and the label the finished guideline gives it. The world picks one per seed.
OPEN_KINDS = {
    "promo": (("off_topic", "spam"), "spam"),                # self-promotion unrelated to the thread
    "miracle": (("misinformation", "spam"), "spam"),         # an advert that sells with a false health claim
    "callout": (("harassment", "off_topic"), "harassment"),  # a jab at another user about something unrelated
}
KINDS = LABELS + tuple(OPEN_KINDS)

# Each surface's true mix, drawn per seed: every rare label between these shares (the trust and safety
# team's logs say no rare label falls below RARE_SHARE_FLOOR on any surface), the open kind between
# these, and `ok` the rest.
RARE_SHARE_FLOOR = 0.02
RARE_SHARE_RANGE = (0.025, 0.07)
OPEN_SHARE_RANGE = (0.10, 0.16)

# A careful rater gives the intended label this often on a comment the guideline covers (misinformation
# is the hardest to judge without checking facts)...
CAREFUL_ACCURACY = {"ok": 0.98, "spam": 0.96, "off_topic": 0.94, "harassment": 0.95, "misinformation": 0.9}
# ...and otherwise slips to a neighbouring label (rows: intended label; columns: LABELS).
SLIP = {
    "ok": (0.00, 0.20, 0.30, 0.30, 0.20),
    "spam": (0.35, 0.00, 0.55, 0.05, 0.05),
    "off_topic": (0.60, 0.35, 0.00, 0.05, 0.00),
    "harassment": (0.70, 0.00, 0.25, 0.00, 0.05),
    "misinformation": (0.75, 0.05, 0.20, 0.00, 0.00),
}
# On the open kind, each careful rater picks the pair's first label with a personal lean (drawn per seed).
OPEN_LEAN = (0.2, 0.8)
# The careless rater labels this share of comments uniformly at random.
CARELESS_RANDOM_SHARE = 0.5

PRODUCTS = ("blender", "headphones", "desk lamp", "running shoes", "phone case", "air fryer", "backpack",
            "coffee grinder", "kettle", "webcam")
TEMPLATES = {
    "ok": (
        "The {product} works fine, but the cable is shorter than I expected.",
        "Had the {product} for {n} weeks now and no problems so far.",
        "Does the {product} come with a warranty?",
        "Delivery took {n} days and the packaging was good.",
        "Not worth the price in my opinion, the {product} feels cheap.",
        "Thanks for the quick answer, that settles my question.",
        "Can anyone compare this {product} with last year's model?",
        "Mine stopped working after {n} months; support replaced it for free.",
        "Is the {product} quiet enough for a small flat?",
        "Honestly disappointed, the colour is nothing like the photos.",
        "Great demo of the {product} today, it helped me decide.",
        "Which size should I order if I am between two sizes?",
        "Returned it after {n} days, the seller refunded without fuss.",
        "Five stars, my second {product} from this brand.",
        "How loud is it on the highest setting?",
        "The manual is confusing but the video guide helped.",
    ),
    "spam": (
        "Cheapest {product} deals at {url}, use code {code}!!!",
        "I earn {money} dollars a day from home, message me to learn how.",
        "Buy real followers and likes at {url}",
        "FREE gift cards for the first {n}0 people: {url}",
        "Crypto signals with 300% returns, join {url} now",
        "Replica {product} at 80% off, DM me for the catalogue.",
        "Win a free {product}! Click {url} and enter your card details.",
        "Cheap loans approved in {n} minutes, apply at {url}",
        "Work from home, no experience needed, {money} dollars a week: {url}",
    ),
    "off_topic": (
        "Anyone else watching the match tonight?",
        "My cat just knocked my coffee over, what a morning.",
        "What is everyone cooking for dinner?",
        "Does anybody know a good dentist near the station?",
        "Rain again here, {n} days in a row.",
        "Who else thinks the new season of that show is boring?",
        "Happy Friday everyone, any plans for the weekend?",
        "Can someone recommend a good book for a long flight?",
        "My neighbour's dog has been barking for {n} hours.",
    ),
    "harassment": (
        "Only an idiot would buy this, and you clearly did.",
        "Nobody cares about your opinion, go away.",
        "People like you should not be allowed online.",
        "You are pathetic, delete your account.",
        "Shut up, clown, nobody asked you.",
        "Reviewers like you are the reason this site is garbage.",
        "Go back to school before you write another review.",
    ),
    "misinformation": (
        "This {product} gives off radiation that causes cancer, look it up.",
        "The company admitted the {product} secretly records you all day.",
        "Drinking from this bottle cures diabetes, doctors hide it.",
        "The government bans this brand next week, sell yours now.",
        "Charging it overnight makes the battery explode every time.",
        "Studies prove this {product} doubles your metabolism overnight.",
    ),
    "promo": (
        "Check out my travel vlog, a new episode is up today!",
        "Follow my page for daily cat memes.",
        "My band plays at the old harbour hall on Friday, come along.",
        "Just started a cooking channel, subscribe if you like pasta.",
        "Selling my old bike for {money} dollars, message me.",
        "Vote for my photo in the city contest, link in my profile.",
        "I just opened an online shop for handmade candles, have a look.",
        "Listen to my new podcast episode about gardening!",
        "Anyone want puppies? Message me, {money} dollars each.",
        "Join my fantasy football league, details in my bio.",
        "My sister's bakery opens on Saturday, first coffee is free.",
        "New video on my channel: {n} tips for cheap travel.",
    ),
    "miracle": (
        "This tea melted {n} kilos off me in a week, order yours at {url}",
        "Doctors hate this trick: one capsule a day cures joint pain, {url}",
        "My {product} kills 99% of viruses in the air, buy it with code {code}",
        "Reverse ageing in {n} days with our drops, first bottle free at {url}",
        "This bracelet blocks phone radiation, {money} dollars at {url}",
        "Clinically proven to double your memory, get the pills at {url}",
        "Cure your diabetes naturally with my programme, join at {url}",
        "Lose weight while you sleep, the secret is at {url}",
    ),
    "callout": (
        "Stop spamming every thread with your politics, nobody wants it.",
        "You again? Go bother another forum with your football rants.",
        "Same user posting memes under every review, get a life.",
        "Whoever keeps posting about their cat, we do not care.",
        "You clearly have no idea about anything, stick to your gaming threads.",
        "Take your weather complaints somewhere else, you are so annoying.",
        "Is it your job to post nonsense under every question? Grow up.",
        "Every week the same person derails the thread, just stop.",
    ),
}



@dataclass(frozen=True)
class World:
    """The planted parameters of one seed: what comments are, how each rater behaves."""

    seed: int
    kind_mix: dict[str, tuple[float, ...]]  # per surface, the share of each of KINDS
    open_kind: str                          # the kind the pilot guideline leaves open
    careless_rater: str
    lean: dict[str, float]                  # each rater's chance of giving the open kind the pair's first label

    @property
    def confused_pair(self) -> tuple[str, str]:
        """The two labels careful raters split between (sorted)."""
        return tuple(sorted(OPEN_KINDS[self.open_kind][0]))

    @property
    def open_kind_label(self) -> str:
        """The label the finished guideline gives the open kind."""
        return OPEN_KINDS[self.open_kind][1]

    def label_share(self, surface: str, label: str) -> float:
        """The true share of a surface's comments whose intended label (finished guideline) is `label`."""
        mix = dict(zip(KINDS, self.kind_mix[surface]))
        return mix[label] + (mix[self.open_kind] if label == self.open_kind_label else 0.0)


@dataclass(frozen=True)
class AnnotationPilotTruth:
    """The planted answers of one draw: what each comment is, and who the careless rater is."""

    kind: np.ndarray                  # one of KINDS per item
    intended_label: np.ndarray        # the label the finished guideline gives
    careless_rater: str
    lean: dict[str, float]            # each careful rater's lean on the open kind
    confused_pair: tuple[str, str]
    open_kind: str
    dominant_label: str = "ok"


def world(seed: int) -> World:
    """The planted parameters for `seed`."""
    rng = np.random.default_rng([seed, 303])
    open_kind = tuple(OPEN_KINDS)[rng.integers(len(OPEN_KINDS))]
    kind_mix = {}
    for surface in SURFACES:
        rare = rng.uniform(*RARE_SHARE_RANGE, size=len(RARE_LABELS))
        open_share = rng.uniform(*OPEN_SHARE_RANGE)
        shares = {"ok": 1 - rare.sum() - open_share, **dict(zip(RARE_LABELS, rare))}
        kind_mix[surface] = tuple(shares.get(kind, open_share if kind == open_kind else 0.0) for kind in KINDS)
    careless = RATERS[rng.integers(len(RATERS))]
    lean = {rater: float(rng.uniform(*OPEN_LEAN)) for rater in RATERS}
    return World(seed, kind_mix, open_kind, careless, lean)


def _text(rng: np.random.Generator, kind: str) -> str:
    template = TEMPLATES[kind][rng.integers(len(TEMPLATES[kind]))]
    return template.format(product=PRODUCTS[rng.integers(len(PRODUCTS))], n=int(rng.integers(2, 10)),
                           url=f"www.deal{int(rng.integers(10, 99))}.example", code=f"SAVE{int(rng.integers(10, 90))}",
                           money=int(rng.integers(2, 9)) * 50)


_SLIP_CDF = np.cumsum([SLIP[label] for label in LABELS], axis=1)
_ACCURACY = np.array([CAREFUL_ACCURACY[label] for label in LABELS])


def rate(world_: World, kinds: np.ndarray, rng: np.random.Generator, guideline: str = "v1",
         raters: tuple[str, ...] = RATERS) -> np.ndarray:
    """Label codes (items x raters, positions in LABELS) that `raters` give comments of `kinds` under a guideline."""
    first, second = OPEN_KINDS[world_.open_kind][0]
    is_open = kinds == world_.open_kind
    intended = np.where(is_open, world_.open_kind_label, kinds)
    code = pd.Index(LABELS).get_indexer(intended)
    n, m = len(kinds), len(raters)
    right = rng.random((n, m)) < _ACCURACY[code][:, None]
    slip = (rng.random((n, m))[..., None] > _SLIP_CDF[code][:, None, :]).sum(axis=-1)
    labels = np.where(right, code[:, None], np.minimum(slip, len(LABELS) - 1))
    lean_draw = rng.random((n, m))
    if guideline == "v1":
        lean = np.array([world_.lean[r] for r in raters])
        open_labels = np.where(lean_draw < lean, LABELS.index(first), LABELS.index(second))
        labels = np.where(is_open[:, None], open_labels, labels)
    careless = np.array([r == world_.careless_rater for r in raters])
    random_share = rng.random((n, m)) < CARELESS_RANDOM_SHARE
    random_label = rng.integers(0, len(LABELS), size=(n, m))
    return np.where(careless[None, :] & random_share, random_label, labels)


def draw_kinds(world_: World, rng: np.random.Generator, per_surface: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Surfaces and kinds of fresh comments, `per_surface[s]` of them from surface s (in SURFACES order)."""
    surfaces = np.concatenate([[s] * int(per_surface.get(s, 0)) for s in SURFACES])
    kinds = np.empty(surfaces.size, dtype=object)
    for surface in SURFACES:
        where = surfaces == surface
        drawn = rng.choice(len(KINDS), size=where.sum(), p=world_.kind_mix[surface])
        kinds[where] = np.array(KINDS, dtype=object)[drawn]
    return surfaces, kinds.astype(str)


def draw(world_: World, rng: np.random.Generator, per_surface: dict[str, int] | None = None, guideline: str = "v1",
         texts: bool = True) -> tuple[dict[str, pd.DataFrame], AnnotationPilotTruth]:
    """A pilot from the world: comments (shuffled across surfaces), every rater's label, and the draw's truth."""
    surfaces, kinds = draw_kinds(world_, rng, per_surface or SURFACE_PILOT_ITEMS)
    order = rng.permutation(surfaces.size)
    surfaces, kinds = surfaces[order], kinds[order]
    item_ids = [f"c{i:03d}" for i in range(1, surfaces.size + 1)]
    items = pd.DataFrame({"item_id": item_ids, "surface": surfaces,
                          "text": [_text(rng, kind) for kind in kinds] if texts else ""})
    codes = rate(world_, kinds, rng, guideline)
    ratings = pd.DataFrame({"item_id": np.repeat(item_ids, len(RATERS)), "rater_id": np.tile(RATERS, len(item_ids)),
                            "label": np.array(LABELS)[codes.ravel()]})
    intended = np.where(kinds == world_.open_kind, world_.open_kind_label, kinds)
    truth = AnnotationPilotTruth(kinds, intended, world_.careless_rater,
                                 {r: v for r, v in world_.lean.items() if r != world_.careless_rater},
                                 world_.confused_pair, world_.open_kind)
    return {"annotation_pilot_items": items, "annotation_pilot_ratings": ratings}, truth


def generate(seed: int = CANONICAL_SEED) -> tuple[dict[str, pd.DataFrame], AnnotationPilotTruth]:
    """The canonical draw for a seed: both module 03 tables, and the planted truth."""
    return draw(world(seed), np.random.default_rng(seed))


@lru_cache(maxsize=64)
def cached_world(seed: int) -> World:
    """world(seed), computed once per process (truth tests and deploy call it often)."""
    return world(seed)


def fresh_rng(seed: int, purpose: str) -> np.random.Generator:
    """A generator for fresh draws from the world of `seed`, independent of the learner's own draw."""
    return np.random.default_rng([seed, sum(map(ord, purpose)) + 10_000])


# --- population quantities: what the truth tests and `deploy` compare against --------------------------------

AT_SCALE_ITEMS = 40_000  # a draw this large pins alpha down to about ±0.003
TRAFFIC_WEIGHTS = {surface: count / sum(SURFACE_PILOT_ITEMS.values()) for surface, count in SURFACE_PILOT_ITEMS.items()}


def alpha_from_codes(codes: np.ndarray, categories: int = len(LABELS)) -> np.ndarray | float:
    """Krippendorff's nominal alpha of complete label codes (..., items, raters), batched over leading axes."""
    counts = (codes[..., None] == np.arange(categories)).sum(axis=-2)           # (..., items, categories)
    raters = codes.shape[-1]
    totals = counts.sum(axis=-2)                                                # (..., categories)
    agree = (counts * (counts - 1)).sum(axis=(-2, -1)) / (raters - 1)           # coincidence diagonal total
    n = counts.shape[-2] * raters
    observed = (n - agree) / n
    expected = (n**2 - (totals**2).sum(axis=-1)) / (n * (n - 1))
    return 1 - observed / expected


def _careful(world_: World) -> tuple[str, ...]:
    return tuple(r for r in RATERS if r != world_.careless_rater)


@lru_cache(maxsize=512)
def population_alpha(seed: int, guideline: str) -> float:
    """Alpha of the careful raters on comments at scale (traffic mix) under a guideline: v1 (pilot) or v2 (fixed)."""
    world_ = cached_world(seed)
    rng = fresh_rng(seed, f"at scale {guideline}")
    per_surface = {s: round(AT_SCALE_ITEMS * w) for s, w in TRAFFIC_WEIGHTS.items()}
    _, kinds = draw_kinds(world_, rng, per_surface)
    return float(alpha_from_codes(rate(world_, kinds, rng, guideline, _careful(world_))))


def repilot_alphas(seed: int, n_items: int, repeats: int = 200, guideline: str = "v2") -> np.ndarray:
    """Alpha of `repeats` fresh re-pilots of `n_items` comments, rated by the careful raters under a guideline."""
    world_ = cached_world(seed)
    rng = fresh_rng(seed, f"re-pilot {n_items} {guideline}")
    per_surface = {s: round(n_items * repeats * w) for s, w in TRAFFIC_WEIGHTS.items()}
    _, kinds = draw_kinds(world_, rng, per_surface)
    kinds = kinds[rng.permutation(kinds.size)][: n_items * repeats]
    codes = rate(world_, kinds, rng, guideline, _careful(world_))
    return alpha_from_codes(codes.reshape(repeats, n_items, -1))


def collect(seed: int, planned: dict[str, int]) -> pd.DataFrame:
    """Collect `planned[surface]` fresh comments per surface: positives of each rare label, and each margin of error."""
    world_ = cached_world(seed)
    rng = fresh_rng(seed, "collection")
    rows = []
    for surface in SURFACES:
        n = int(planned.get(surface, 0))
        _, kinds = draw_kinds(world_, rng, {surface: n})
        intended = np.where(kinds == world_.open_kind, world_.open_kind_label, kinds)
        needs_action = 1 - world_.label_share(surface, "ok")
        margin = 1.959963984540054 * np.sqrt(needs_action * (1 - needs_action) / max(n, 1))
        for label in RARE_LABELS:
            rows.append((surface, label, n, int((intended == label).sum()), float(margin)))
    return pd.DataFrame(rows, columns=["surface", "label", "items", "positives", "margin_of_error"]
                        ).set_index(["surface", "label"])


def items_needed_in_hindsight(seed: int, positives: int, margin: float, z: float) -> dict[str, int]:
    """Per surface, the comments a plan sized on the true mix needs: positives of the rarest label, and the margin."""
    world_ = cached_world(seed)
    needed = {}
    for surface in SURFACES:
        rarest = min(world_.label_share(surface, label) for label in RARE_LABELS)
        p = 1 - world_.label_share(surface, "ok")
        needed[surface] = max(int(np.ceil(positives / rarest)), int(np.ceil(z**2 * p * (1 - p) / margin**2)))
    return needed


FAMILY = DatasetFamily("annotation_pilot", generate, CANONICAL_SEED,
                       ("annotation_pilot_items", "annotation_pilot_ratings"))
