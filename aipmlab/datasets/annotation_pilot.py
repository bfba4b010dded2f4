"""Synthetic annotation pilot for module 03 (data collection plan).

A community site wants a classifier that sorts user comments into five moderation labels. Before
paying for 50,000 labels, the team ran a pilot: five raters labelled the same 300 comments. One
table lists the comments (with the surface they were posted on), the other every rater's label.

What is planted, and kept here rather than in any file: each comment's intended label under the
guideline the team meant to write; a group of self-promoting comments that the first guideline does
not settle (raters split between `spam` and `off_topic`, each with a personal lean); one careless
rater who labels at random a large share of the time; and a dominant `ok` class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from aipmlab.datasets.family import DatasetFamily

CANONICAL_SEED = 2024

LABELS = ("ok", "spam", "off_topic", "harassment", "misinformation")
RATERS = ("r1", "r2", "r3", "r4", "r5")

# The pilot drew comments from each surface in proportion to its share of traffic.
SURFACE_PILOT_ITEMS = {"product_reviews": 150, "community_forum": 84, "seller_questions": 54, "live_chat": 12}

# What each surface's comments really are. "promo" is self-promotion that is unrelated to the thread:
# the guideline the team meant to write calls it spam, but the pilot guideline does not say so.
KINDS = ("ok", "spam", "off_topic", "harassment", "misinformation", "promo")
KIND_MIX = {
    "product_reviews": (0.65, 0.05, 0.05, 0.06, 0.05, 0.14),
    "community_forum": (0.55, 0.04, 0.11, 0.08, 0.06, 0.16),
    "seller_questions": (0.83, 0.04, 0.03, 0.02, 0.02, 0.06),
    "live_chat": (0.48, 0.10, 0.10, 0.12, 0.04, 0.16),
}

# A careful rater gives the intended label this often on a comment the guideline covers (misinformation
# is the hardest to judge without checking facts)...
CAREFUL_ACCURACY = {"ok": 0.975, "spam": 0.95, "off_topic": 0.93, "harassment": 0.94, "misinformation": 0.82}
# ...and otherwise slips to a neighbouring label (rows: intended label; columns: LABELS).
SLIP = {
    "ok": (0.00, 0.20, 0.30, 0.30, 0.20),
    "spam": (0.35, 0.00, 0.55, 0.05, 0.05),
    "off_topic": (0.60, 0.35, 0.00, 0.05, 0.00),
    "harassment": (0.70, 0.00, 0.25, 0.00, 0.05),
    "misinformation": (0.75, 0.05, 0.20, 0.00, 0.00),
}
# On self-promotion, each careful rater follows a personal lean towards spam (drawn per seed).
PROMO_SPAM_LEAN = (0.2, 0.8)
PROMO_OTHER = 0.05  # share of promo ratings that go to `ok` instead of spam or off_topic
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
}


@dataclass(frozen=True)
class AnnotationPilotTruth:
    """The planted answers: what each comment is, and who the careless rater is."""

    kind: np.ndarray                  # one of KINDS per item ("promo" = the pair the guideline leaves open)
    intended_label: np.ndarray        # the label the finished guideline gives (promo counts as spam)
    careless_rater: str
    promo_spam_lean: dict[str, float]  # each careful rater's chance of calling self-promotion spam
    confused_pair: tuple[str, str] = ("off_topic", "spam")
    dominant_label: str = "ok"


def _text(rng: np.random.Generator, kind: str) -> str:
    template = TEMPLATES[kind][rng.integers(len(TEMPLATES[kind]))]
    return template.format(product=PRODUCTS[rng.integers(len(PRODUCTS))], n=int(rng.integers(2, 10)),
                           url=f"www.deal{int(rng.integers(10, 99))}.example", code=f"SAVE{int(rng.integers(10, 90))}",
                           money=int(rng.integers(2, 9)) * 50)


def _careful_label(rng: np.random.Generator, kind: str, spam_lean: float) -> str:
    if kind == "promo":
        if rng.random() < PROMO_OTHER:
            return "ok"
        return "spam" if rng.random() < spam_lean else "off_topic"
    if rng.random() < CAREFUL_ACCURACY[kind]:
        return kind
    return LABELS[rng.choice(len(LABELS), p=SLIP[kind])]


def generate(seed: int = CANONICAL_SEED) -> tuple[dict[str, pd.DataFrame], AnnotationPilotTruth]:
    """Build both module 03 tables from a seed; returns {table name: table} and the planted truth."""
    rng = np.random.default_rng(seed)
    surfaces = np.concatenate([[s] * n for s, n in SURFACE_PILOT_ITEMS.items()])
    surfaces = surfaces[rng.permutation(surfaces.size)]
    kinds = np.array([KINDS[rng.choice(len(KINDS), p=KIND_MIX[s])] for s in surfaces])
    texts = [_text(rng, kind) for kind in kinds]
    item_ids = [f"c{i:03d}" for i in range(1, surfaces.size + 1)]
    items = pd.DataFrame({"item_id": item_ids, "surface": surfaces, "text": texts})

    careless = RATERS[rng.integers(len(RATERS))]
    lean = {rater: float(rng.uniform(*PROMO_SPAM_LEAN)) for rater in RATERS}
    rows = []
    for item_id, kind in zip(item_ids, kinds):
        for rater in RATERS:
            if rater == careless and rng.random() < CARELESS_RANDOM_SHARE:
                label = LABELS[rng.integers(len(LABELS))]
            else:
                label = _careful_label(rng, kind, lean[rater])
            rows.append((item_id, rater, label))
    ratings = pd.DataFrame(rows, columns=["item_id", "rater_id", "label"])

    intended = np.where(kinds == "promo", "spam", kinds)
    truth = AnnotationPilotTruth(kinds, intended, careless, {r: lean[r] for r in RATERS if r != careless})
    return {"annotation_pilot_items": items, "annotation_pilot_ratings": ratings}, truth


FAMILY = DatasetFamily("annotation_pilot", generate, CANONICAL_SEED,
                       ("annotation_pilot_items", "annotation_pilot_ratings"))
