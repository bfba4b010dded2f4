"""Synthetic support tickets for module 02 (data quality audit).

An online shop trains an intent classifier on customer support tickets. Each row is a short ticket
with the intent a labeller gave it, the split it was put in (train or test) and the channel it came
through. The generator plants the problems an audit should find: exact and near-duplicate tickets,
test tickets that copy training tickets, label noise concentrated between two confusable intents
(in both splits: the first-pass labeller never knew which tickets would be tested), and a channel
mix that differs from production's. An expert adjudicated every test ticket and a random sample of
training tickets.

A seed first draws a `World`: the planted parameters (which intent pair is confused and how often,
how many copies the export holds, which two channels the training data under-represents). A draw
then samples tickets from that world. What was planted (the world, the true intent of every ticket,
which rows are copies of which, which labels were flipped) stays in `SupportTicketsTruth`; no file
carries it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from aipmlab.datasets.family import DatasetFamily
from aipmlab.datasets.ticket_vocabulary import CHANNELS, INTENTS  # noqa: F401 (re-exported)

CANONICAL_SEED = 2024
TICKET_COUNT = 4000
EXACT_COPY_SHARE_RANGE = (0.03, 0.05)  # rows that are exact copies of another ticket (drawn per world)
NEAR_COPY_SHARE_RANGE = (0.04, 0.06)   # rows that are lightly edited copies of another ticket (drawn per world)
TEST_SHARE = 0.20            # rows put in the test split, at random
AUDIT_SIZE = 400             # training tickets re-labelled by an expert, drawn at random
EXPERT_ERROR_RATE = 0.005    # even the expert is wrong now and then

INTENT_SHARE = (0.13, 0.17, 0.12, 0.20, 0.22, 0.16)
# Pairs of intents a first-pass labeller can mix up; each world confuses one of them.
CONFUSABLE_PAIRS = (("billing_question", "refund"), ("account_access", "technical_issue"),
                    ("billing_question", "cancel_subscription"), ("delivery_status", "refund"))
PAIR_FLIP_RATE_RANGE = (0.14, 0.22)  # labels flipped to the other intent of the confused pair (drawn per world)
OTHER_FLIP_RATE = 0.01       # labels flipped to any other intent, for every intent
CROSSOVER_RATE = 0.10        # pair tickets worded like the other intent: right label, misleading words

# Two of the newer channels are thin in the labelled data and large in production; each world picks which.
THIN_CANDIDATES = ("chat", "app", "social")
CHANNEL_WEIGHT = {"email": 0.38, "web_form": 0.27, "chat": 0.20, "app": 0.20, "social": 0.20}  # labelled data
THIN_TRAINING_SHARE_RANGE = (0.03, 0.07)     # each thin channel's share of the labelled data
THIN_PRODUCTION_SHARE_RANGE = (0.18, 0.26)   # each thin channel's share of production traffic
GROWING_PRODUCTION_SHARE_RANGE = (0.26, 0.30)  # the third newer channel: somewhat thin, not below half
EMAIL_SHARE_OF_REST = 0.6                    # email and web forms split what is left of production 60/40

APP_TYPO_RATE = 0.6

NEAR_EDITS = ("case", "whitespace", "punctuation", "word_swap", "word_dropped", "word_added")

PRODUCTS = ("headphones", "blender", "running shoes", "phone case", "desk lamp", "coffee grinder", "backpack",
            "smartwatch", "rain jacket", "yoga mat", "kettle", "keyboard", "webcam", "air fryer", "sofa cushion",
            "water bottle", "hair dryer", "monitor stand", "tent", "baby monitor", "printer", "speaker",
            "vacuum cleaner", "bike helmet", "board game", "toaster", "winter boots", "drone", "mattress topper",
            "electric toothbrush")
DEFECTS = ("broken", "damaged", "scratched", "the wrong size", "the wrong colour", "missing parts", "not working",
           "dead on arrival", "cracked", "leaking")
DATES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "March 3", "March 14",
         "April 2", "April 21", "May 9", "May 30", "June 12", "June 25", "July 4", "July 19", "August 8",
         "August 27", "September 15")
PLANS = ("Basic", "Plus", "Premium", "Family", "Student", "Annual", "Business", "Starter")
DEVICES = ("iPhone", "Android phone", "iPad", "laptop", "Windows PC", "Mac", "tablet", "Chromebook", "Pixel",
           "Galaxy phone")
FEATURES = ("the cart", "my orders", "the search page", "saved items", "notifications", "the wishlist",
            "the checkout", "my profile", "order history", "the help centre")
ERRORS = ("error 502", "a blank screen", "an unknown error", "error code E17", "a timeout message",
          "error 404", "a grey box", "error code A3", "a spinning wheel", "a login loop")
ACTIONS = ("pay", "add items to the cart", "upload a photo", "update my address", "apply a coupon",
           "leave a review", "change my password", "track a parcel")
COURIERS = ("UPS", "FedEx", "DHL", "USPS", "the local courier", "Royal Mail", "DPD", "Hermes")
NAMES = ("Anna", "Ben", "Carla", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jamal", "Kate", "Luis",
         "Maya", "Nikhil", "Olga", "Pedro", "Quinn", "Rosa", "Sam", "Tariq", "Uma", "Victor", "Wen", "Yusuf",
         "Zoe", "Priya", "Tom", "Lena", "Omar", "Sofia")
SURNAMES = ("smith", "garcia", "khan", "nguyen", "muller", "rossi", "silva", "kim", "okafor", "dubois", "patel",
            "cohen", "novak", "jensen", "lopez", "sato")

CORE_SENTENCES = {
    "refund": (
        "I would like a refund for the {product} from order {order}, it arrived {defect} on {date}.",
        "Please refund my order {order}. The {product} was {defect} and I sent it back on {date}.",
        "Can I get my money back for the {product}? Order {order} was {defect} when I opened it on {date}.",
        "I returned the {product} {days} days ago and I still have not received my refund of {amount}.",
        "The {product} from order {order} is {defect}. I want a full refund of {amount}, not a replacement.",
        "I was charged {amount} for {a_product} that I cancelled on {date}. Please send the money back.",
        "I am requesting a refund of {amount} for order {order} because the {product} never worked.",
        "You took {amount} for the {product} on {date} but it came {defect}, so I want that money returned.",
    ),
    "billing_question": (
        "Why was I charged {amount} on {date}? I do not recognise this payment for the {plan} plan.",
        "I see two charges of {amount} on my card for order {order} on {date}. Can you explain them?",
        "My invoice {invoice} shows {amount} but the {plan} plan should cost less. What is this fee?",
        "When will my card be charged for the {plan} plan, on {date} or at the end of the month? Invoice {invoice}.",
        "How do I change the card you bill for my {plan} plan? Invoice {invoice} from {date} went to my old card.",
        "Invoice {invoice} is {amount}, which is more than last month. Why did the {plan} price go up?",
        "I was charged {amount} on {date} for order {order} and I do not understand the extra tax.",
        "There is a charge of {amount} from you on {date} that I cannot match to any order. Is it the {plan} plan?",
    ),
    "cancel_subscription": (
        "Please cancel my {plan} subscription for account {account} before it renews on {date}.",
        "I want to stop my {plan} plan. How do I cancel it? My account is {account}, I joined {days} months ago.",
        "Cancel my {plan} membership please, I have not used it since {date}. The account is {account}.",
        "I tried to cancel the {plan} plan in settings on my {device} but the button does nothing. Account {account}.",
        "Do not renew my {plan} subscription on {date}. I want to close it. Account {account}.",
        "I want to end the {plan} plan on account {account} after {days} months, it is too expensive now.",
    ),
    "delivery_status": (
        "Where is my order {order}? The {product} was supposed to arrive on {date}.",
        "My package {order} has been out for delivery with {courier} for {days} days. Where is the {product}?",
        "Tracking for order {order} has not updated since {date}. When will the {product} arrive?",
        "{courier} says order {order} was delivered on {date} but I never got the {product}.",
        "Can you give me an update on order {order}? The {product} is a gift and I need it by {date}.",
        "The {product} in order {order} is stuck at the {courier} depot since {date}.",
        "Order {order} shows shipped {days} days ago with {courier} but the {product} has not arrived.",
    ),
    "technical_issue": (
        "The app crashes on my {device} every time I open {feature}. I am on version {version}.",
        "I get {error} when I try to {action} on my {device}. App version {version}.",
        "Since the update to version {version} the {feature} page shows {error} on my {device}.",
        "The checkout button does nothing on my {device} and I see {error}. Version {version}.",
        "{feature} keeps loading forever on my {device} with version {version}, then shows {error}.",
        "I cannot {action} in the app on my {device} since {date}, it shows {error}.",
    ),
    "account_access": (
        "I cannot log in to my account {account} on my {device} since {date}. It says my password is wrong.",
        "I never received the reset email for {account}. I tried {days} times since {date}.",
        "My account {account} was locked after too many attempts on my {device} on {date}.",
        "I lost the phone I use for login codes. How do I get back into {account}? I tried on my {device} on {date}.",
        "Someone changed the email on my account {account} on {date} and now I cannot sign in on my {device}.",
        "The verification code for {account} never arrives on my {device}, I waited {days} minutes.",
    ),
}

# How people write on a phone or on social media: shorter, and in their own words.
CASUAL_SENTENCES = {
    "refund": (
        "want my money back for the {product}, order {order} came {defect}",
        "the {product} is junk, refund me the {amount} please",
        "sent the {product} back on {date}, where is my money",
        "{product} arrived {defect} on {date}, I want the {amount} back",
        "give me back the {amount} for order {order}, the {product} is useless",
    ),
    "billing_question": (
        "why did you take {amount} from my card on {date}",
        "double charged {amount} for order {order}, what is going on",
        "what is this {amount} fee on my card from {date}",
        "the {plan} price went up to {amount}, why",
        "got a bill for {amount} on {date} and no idea what it is for",
    ),
    "cancel_subscription": (
        "how do I get rid of the {plan} plan, account {account}",
        "stop charging me for {plan}, I am done, account {account}",
        "unsubscribe me from {plan} before {date}, account {account}",
        "I do not want {plan} anymore, close {account} on {date}",
    ),
    "delivery_status": (
        "where is my stuff, order {order} from {date}",
        "{courier} lost my {product} again, order {order}",
        "still waiting on the {product}, order {order}, {days} days now",
        "my {product} never showed up, {courier} tracking for {order} is stuck",
    ),
    "technical_issue": (
        "app keeps crashing on my {device} on version {version}",
        "{feature} broken again on my {device}, it shows {error}",
        "cannot {action}, the app just shows {error} on my {device}",
        "version {version} is a mess, {feature} will not load on my {device}",
    ),
    "account_access": (
        "locked out of {account} on my {device}, help",
        "the password reset never comes for {account}, tried {days} times",
        "cannot sign in since {date}, account {account}",
        "lost my login code phone, need to get into {account} from my {device}",
    ),
}
# Tickets that do not say what they want: even an expert needs the order history to label them.
VAGUE_RATE = {"email": 0.06, "web_form": 0.06, "chat": 0.10, "app": 0.10, "social": 0.12}
THIN_VAGUE_RATE = 0.22  # in the thin channels customers write casually and often vaguely
VAGUE_SENTENCES = {
    "order": (
        "I have a problem with order {order} from {date}. Can someone look into it?",
        "Something is wrong with my order {order} for the {product}. Please get back to me.",
        "Order {order}, {amount}: I need help with this, it is urgent.",
        "Please check what happened with order {order} on {date}, the {product}.",
    ),
    "account": (
        "I need help with my account {account} on my {device}, it is about {date}.",
        "There is a problem with my {plan} account {account}. Please call me.",
        "Please look at account {account}, something is not right since {date}.",
        "My {plan} account {account} is not working the way it should on my {device}.",
    ),
}
VAGUE_GROUP = {"refund": "order", "billing_question": "order", "delivery_status": "order",
               "cancel_subscription": "account", "technical_issue": "account", "account_access": "account"}

# A second sentence many customers add; it carries no intent of its own.
CONTEXT_SENTENCES = (
    "I have been a customer for {years} years.", "This is my {nth} message about this.",
    "I live in {city}.", "I already called on {date2} and nobody helped.", "My phone number is {phone}.",
    "I ordered on {date2} from {city}.", "It is the {nth} time this has happened.",
    "You can reach me until {hour}.", "I am writing from {city}.", "My customer number is {customer}.",
    "I would appreciate an answer by {date2}.", "I have tried this {nth_count} times already.",
)
CONTEXT_RATE = {"email": 0.8, "web_form": 0.9, "chat": 0.6, "app": 0.6, "social": 0.2}
CITIES = ("Leeds", "Lyon", "Austin", "Pune", "Porto", "Dublin", "Denver", "Krakow", "Seville", "Toronto", "Osaka",
          "Nairobi", "Bristol", "Utrecht", "Adelaide", "Malmo")
ORDINALS = ("second", "third", "fourth", "fifth")

EMAIL_OPENERS = ("Hello,", "Hi team,", "Good morning,", "Dear support,", "Hi there,", "Hello support team,",
                 "Good afternoon,", "To whom it may concern,")
EMAIL_CLOSERS = ("Thanks, {name}", "Kind regards, {name}", "Best, {name}", "Thank you. {name}",
                 "Many thanks, {name}", "Regards, {name} {surname_title}", "Cheers, {name}")
CHAT_OPENERS = ("hi", "hello", "hey there", "hi, quick question", "hello, can you help", "", "")
CHAT_CLOSERS = ("thanks", "thank you", "", "please help", "can you check", "ty", "")
SOCIAL_HANDLES = ("@ShopHelp", "@ShopSupport", "hey @ShopHelp", "@ShopHelp @ShopSupport")
SOCIAL_TAGS = ("", "", "#fail", "#customerservice", "not happy", "so annoying", "#help", "seriously")
SOCIAL_SHORTHAND = {"please": "pls", "you": "u", "your": "ur", "thanks": "thx", "because": "bc",
                    "I am": "im", "I do not": "i dont", "cannot": "cant", "have not": "havent", "with": "w/",
                    "minutes": "mins", "days": "d", "account": "acct", "order": "ordr"}

FILLER_SWAPS = {"I": "we", "my": "our", "please": "kindly", "want": "need", "the": "this", "Please": "Kindly",
                "on": "at", "for": "about", "is": "seems", "can": "could", "was": "got"}
FILLER_INSERTS = ("really", "just", "again", "still", "now", "urgently", "honestly")


@dataclass(frozen=True)
class World:
    """The planted parameters of one seed: what every draw from it shares."""

    seed: int
    confusable_pair: tuple[str, str]   # the two intents the first-pass labeller mixes up
    pair_flip_rate: float              # how often a ticket of the pair gets the other intent's label
    exact_copy_share: float
    near_copy_share: float
    thin_channels: tuple[str, str]     # under-represented in the labelled data, large in production
    training_channel_share: dict[str, float]
    production_channel_share: dict[str, float]  # rounded to two decimals, as published

    def vague_rate(self, channel: str) -> float:
        """Share of a channel's tickets that do not say what the customer wants."""
        return THIN_VAGUE_RATE if channel in self.thin_channels else VAGUE_RATE[channel]


def _production_shares(rng: np.random.Generator, thin: tuple[str, ...]) -> dict[str, float]:
    growing = next(channel for channel in THIN_CANDIDATES if channel not in thin)
    shares = {channel: round(float(rng.uniform(*THIN_PRODUCTION_SHARE_RANGE)), 2) for channel in thin}
    shares[growing] = round(float(rng.uniform(*GROWING_PRODUCTION_SHARE_RANGE)), 2)
    left = 1.0 - sum(shares.values())
    shares["email"] = round(EMAIL_SHARE_OF_REST * left, 2)
    shares["web_form"] = round(left - shares["email"], 2)  # the published shares add up to exactly 1
    return {channel: shares[channel] for channel in CHANNELS}


def world(seed: int) -> World:
    """The planted parameters drawn from `seed` (a stream separate from the draws)."""
    rng = np.random.default_rng([seed, 0])
    pair = CONFUSABLE_PAIRS[int(rng.integers(len(CONFUSABLE_PAIRS)))]
    thin_index = rng.choice(len(THIN_CANDIDATES), size=2, replace=False)
    thin = tuple(THIN_CANDIDATES[i] for i in sorted(thin_index))
    thin_training = {channel: float(rng.uniform(*THIN_TRAINING_SHARE_RANGE)) for channel in thin}
    rest = [channel for channel in CHANNELS if channel not in thin]
    weights = np.array([CHANNEL_WEIGHT[channel] for channel in rest])
    rest_training = dict(zip(rest, (1 - sum(thin_training.values())) * weights / weights.sum()))
    training = {channel: float({**thin_training, **rest_training}[channel]) for channel in CHANNELS}
    return World(
        seed=seed, confusable_pair=pair, pair_flip_rate=float(rng.uniform(*PAIR_FLIP_RATE_RANGE)),
        exact_copy_share=float(rng.uniform(*EXACT_COPY_SHARE_RANGE)),
        near_copy_share=float(rng.uniform(*NEAR_COPY_SHARE_RANGE)),
        thin_channels=thin, training_channel_share=training, production_channel_share=_production_shares(rng, thin),
    )


@dataclass(frozen=True)
class SupportTicketsTruth:
    """The planted answers, row-aligned with the tickets table."""

    world: World
    true_label: np.ndarray       # the intent each ticket really has
    label_flipped: np.ndarray    # True where the given label differs from the true one
    copy_of: np.ndarray          # row position of the ticket a row copies, or -1 for an original
    copy_kind: np.ndarray        # "original", "exact" or one of NEAR_EDITS
    leaked: np.ndarray           # test rows whose ticket (or a copy of it) is also in the training split
    audit_true_label: np.ndarray  # the true intent of each audited ticket, aligned with the audit table


def _pick(rng: np.random.Generator, options: tuple) -> str:
    return options[int(rng.integers(len(options)))]


# The random numbers behind a ticket's slots, in the order a ticket draws them: (name, low, high) for
# `rng.integers(low, high)`. A name that is a vocabulary indexes into it.
SLOT_DRAWS = (("name", 0, len(NAMES)), ("surname", 0, len(SURNAMES)), ("product", 0, len(PRODUCTS)),
              ("defect", 0, len(DEFECTS)), ("date", 0, len(DATES)), ("plan", 0, len(PLANS)),
              ("device", 0, len(DEVICES)), ("feature", 0, len(FEATURES)), ("error", 0, len(ERRORS)),
              ("action", 0, len(ACTIONS)), ("courier", 0, len(COURIERS)), ("order", 100000, 1000000),
              ("invoice", 100000, 1000000), ("dollars", 5, 400), ("cents", 0, 100), ("days", 2, 15),
              ("minor", 0, 30), ("patch", 0, 10), ("account_number", 1, 100), ("years", 2, 16),
              ("nth", 0, len(ORDINALS)), ("city", 0, len(CITIES)), ("date2", 0, len(DATES)), ("phone", 1000, 10000),
              ("hour", 3, 10), ("customer", 10000, 100000), ("nth_count", 3, 9))
SLOT_TEXT = {  # each slot a sentence can name, written from the draws `d`
    "product": lambda d: PRODUCTS[d("product")], "defect": lambda d: DEFECTS[d("defect")],
    "date": lambda d: DATES[d("date")], "plan": lambda d: PLANS[d("plan")], "device": lambda d: DEVICES[d("device")],
    "feature": lambda d: FEATURES[d("feature")], "error": lambda d: ERRORS[d("error")],
    "action": lambda d: ACTIONS[d("action")], "courier": lambda d: COURIERS[d("courier")],
    "order": lambda d: f"#{d('order')}", "invoice": lambda d: f"INV-{d('invoice')}",
    "amount": lambda d: f"${d('dollars')}.{d('cents'):02d}", "days": lambda d: str(d("days")),
    "version": lambda d: f"4.{d('minor')}.{d('patch')}",
    "account": lambda d: f"{NAMES[d('name')].lower()}.{SURNAMES[d('surname')]}{d('account_number')}@example.com",
    "name": lambda d: NAMES[d("name")], "surname_title": lambda d: SURNAMES[d("surname")].title(),
    "a_product": lambda d: ("an " if PRODUCTS[d("product")][0] in "aeiou" else "a ") + PRODUCTS[d("product")],
    "years": lambda d: str(d("years")), "nth": lambda d: ORDINALS[d("nth")], "city": lambda d: CITIES[d("city")],
    "date2": lambda d: DATES[d("date2")], "phone": lambda d: f"555-{d('phone')}", "hour": lambda d: f"{d('hour')} pm",
    "customer": lambda d: f"C{d('customer')}", "nth_count": lambda d: str(d("nth_count")),
}


def _slots(rng: np.random.Generator) -> dict[str, str]:
    """One ticket's slot values, drawn one number at a time (the canonical export's random stream)."""
    drawn = {name: int(rng.integers(low, high)) for name, low, high in SLOT_DRAWS}
    return {slot: text(drawn.__getitem__) for slot, text in SLOT_TEXT.items()}


class _SlotsInBulk:
    """Every ticket's slot numbers drawn at once, one array per draw; `row(i)` writes only the slots asked for."""

    def __init__(self, rng: np.random.Generator, count: int):
        self.columns = {name: rng.integers(low, high, size=count).tolist() for name, low, high in SLOT_DRAWS}

    def row(self, i: int) -> "_SlotRow":
        return _SlotRow(self.columns, i)


class _SlotRow:
    """One ticket's slots for `str.format_map`, written when a sentence names them."""

    def __init__(self, columns: dict[str, list[int]], i: int):
        self.columns, self.i = columns, i

    def _drawn(self, name: str) -> int:
        return self.columns[name][self.i]

    def __getitem__(self, slot: str) -> str:
        return SLOT_TEXT[slot](self._drawn)


def _shorthand(text: str) -> str:
    for long, short in SOCIAL_SHORTHAND.items():
        text = re.sub(rf"\b{re.escape(long)}\b", short, text)
    return text


def _typo(rng: np.random.Generator, text: str) -> str:
    """Swap two neighbouring letters in one longer word, as thumbs on a phone do."""
    words = text.split(" ")
    long_words = [i for i, w in enumerate(words) if w.isalpha() and len(w) >= 5]
    if not long_words:
        return text
    i = long_words[int(rng.integers(len(long_words)))]
    j = int(rng.integers(1, len(words[i]) - 2))
    word = words[i]
    words[i] = word[:j] + word[j + 1] + word[j] + word[j + 2:]
    return " ".join(words)


def _ticket_text(rng: np.random.Generator, world: World, intent: str, channel: str, slots=None) -> str:
    """One ticket: a core sentence in the intent's words, wrapped the way its channel writes (its slots drawn
    here unless given)."""
    slots = _slots(rng) if slots is None else slots
    worded_as = intent
    pair = world.confusable_pair
    if intent in pair and rng.random() < CROSSOVER_RATE:  # asks for one thing in the other's words
        worded_as = pair[1 - pair.index(intent)]
    if rng.random() < world.vague_rate(channel):
        sentences = VAGUE_SENTENCES[VAGUE_GROUP[intent]]
    elif channel in world.thin_channels:
        sentences = CASUAL_SENTENCES[worded_as]
    else:
        sentences = CORE_SENTENCES[worded_as]
    core = _pick(rng, sentences).format_map(slots)
    core = core[0].upper() + core[1:]
    if rng.random() < CONTEXT_RATE[channel]:
        core = f"{core} {_pick(rng, CONTEXT_SENTENCES).format_map(slots)}"
    if channel == "email":
        opener, closer = _pick(rng, EMAIL_OPENERS), _pick(rng, EMAIL_CLOSERS).format_map(slots)
        return f"{opener} {core} {closer}"
    if channel == "chat":
        opener, closer = _pick(rng, CHAT_OPENERS), _pick(rng, CHAT_CLOSERS)
        return " ".join(part for part in (opener, core[0].lower() + core[1:], closer) if part)
    if channel == "app":  # typed on a phone: lower case, no final stop, now and then a typo
        text = core[0].lower() + core[1:].rstrip(".")
        return _typo(rng, text) if rng.random() < APP_TYPO_RATE else text
    if channel == "social":
        body = _typo(rng, _shorthand(core).lower().replace(".", ""))
        tag = _pick(rng, SOCIAL_TAGS)
        return " ".join(part for part in (_pick(rng, SOCIAL_HANDLES), body, tag) if part)
    return core  # web_form: the sentence as typed into the contact form


def _near_copy(rng: np.random.Generator, text: str, edit: str) -> str:
    """A light edit of `text` that stays within one word of it once case, spaces and punctuation are ignored."""
    words = text.split(" ")
    if edit == "case":
        return text.lower() if text != text.lower() else text.upper()
    if edit == "whitespace":
        position = int(rng.integers(1, len(words)))
        return " ".join(words[:position]) + "  " + " ".join(words[position:]) + " "
    if edit == "punctuation":
        stripped = re.sub(r"[.,?!]", "", text)
        return stripped if stripped != text else text + "!!"
    if edit == "word_swap":
        swappable = [i for i, w in enumerate(words) if w in FILLER_SWAPS]
        if swappable:
            i = swappable[int(rng.integers(len(swappable)))]
            return " ".join(words[:i] + [FILLER_SWAPS[words[i]]] + words[i + 1:])
        edit = "word_added"
    if edit == "word_dropped" and len(words) > 8:
        i = int(rng.integers(1, len(words) - 1))
        return " ".join(words[:i] + words[i + 1:])
    i = int(rng.integers(1, len(words)))
    return " ".join(words[:i] + [_pick(rng, FILLER_INSERTS)] + words[i:])


def _flip_labels(rng: np.random.Generator, world: World, true_label: np.ndarray) -> np.ndarray:
    """The first-pass labels: the confused pair swapped at the world's rate, any other intent now and then."""
    given = true_label.copy()
    a, b = world.confusable_pair
    in_pair = np.isin(true_label, world.confusable_pair)
    pair_flip = in_pair & (rng.random(true_label.size) < world.pair_flip_rate)
    given[pair_flip] = np.where(true_label[pair_flip] == a, b, a)
    other_flip = ~pair_flip & (rng.random(true_label.size) < OTHER_FLIP_RATE)
    for row in np.flatnonzero(other_flip):
        given[row] = _pick(rng, tuple(i for i in INTENTS if i != true_label[row]))
    return given


def sample_tickets(world: World, rng: np.random.Generator, count: int, mix: str = "training",
                   slots_in_bulk: bool = False) -> pd.DataFrame:
    """Fresh original tickets from `world` (no copies, no split): text, channel, first-pass label, true intent.

    `mix` is "training" (channels as in the labelled data) or "production" (as in today's traffic).
    `slots_in_bulk` draws every ticket's slot numbers at once: the same distribution, a different random stream,
    about three times faster (for large fresh samples; the canonical export draws ticket by ticket).
    """
    shares = world.training_channel_share if mix == "training" else world.production_channel_share
    true_label = rng.choice(INTENTS, size=count, p=INTENT_SHARE)
    channel = rng.choice(CHANNELS, size=count, p=np.array([shares[c] for c in CHANNELS]) / sum(shares.values()))
    bulk = _SlotsInBulk(rng, count) if slots_in_bulk else None
    text = [_ticket_text(rng, world, intent, ch, None if bulk is None else bulk.row(i))
            for i, (intent, ch) in enumerate(zip(true_label, channel))]
    return pd.DataFrame({"text": text, "channel": channel, "label": _flip_labels(rng, world, true_label),
                         "true_label": true_label})


def draw(world: World, rng: np.random.Generator, ticket_count: int = TICKET_COUNT
         ) -> tuple[dict[str, pd.DataFrame], SupportTicketsTruth]:
    """One export from `world`: the three module 02 tables and the planted truth behind them."""
    exact_count = round(ticket_count * world.exact_copy_share)
    near_count = round(ticket_count * world.near_copy_share)
    original_count = ticket_count - exact_count - near_count

    originals = sample_tickets(world, rng, original_count)
    true_label, channel, given_label = (originals[c].to_numpy() for c in ("true_label", "channel", "label"))
    text = originals["text"].tolist()

    # Copies: a ticket pulled twice from the helpdesk, or re-sent by the customer with a small change.
    source = rng.integers(0, original_count, size=exact_count + near_count)
    kind = np.array(["exact"] * exact_count + list(rng.choice(NEAR_EDITS, size=near_count)))
    copy_text = [text[s] if k == "exact" else _near_copy(rng, text[s], k) for s, k in zip(source, kind)]

    rows = pd.DataFrame({
        "text": text + copy_text,
        "label": np.concatenate([given_label, given_label[source]]),
        "channel": np.concatenate([channel, channel[source]]),
    })
    all_true = np.concatenate([true_label, true_label[source]])
    all_kind = np.concatenate([np.array(["original"] * original_count), kind])
    all_source = np.concatenate([np.full(original_count, -1), source])

    order = rng.permutation(ticket_count)  # shuffle, so copies sit anywhere; ticket ids follow the new order
    position_of = np.empty(ticket_count, dtype=int)
    position_of[order] = np.arange(ticket_count)
    rows = rows.iloc[order].reset_index(drop=True)
    true_sorted, kind_sorted = all_true[order], all_kind[order]
    copy_of = np.where(all_source[order] >= 0, position_of[np.maximum(all_source[order], 0)], -1)
    split = np.where(rng.random(ticket_count) < TEST_SHARE, "test", "train")

    root = np.where(copy_of >= 0, copy_of, np.arange(ticket_count))
    train_roots = set(root[split == "train"])
    leaked = (split == "test") & np.isin(root, list(train_roots))

    tickets = pd.DataFrame({
        "ticket_id": [f"t{i:05d}" for i in range(1, ticket_count + 1)],
        "channel": rows["channel"].to_numpy(),
        "split": split,
        "text": rows["text"].to_numpy(),
        "label": rows["label"].to_numpy(),
    })

    # The expert adjudicates every test ticket and a random sample of training tickets.
    audited_train = rng.choice(np.flatnonzero(split == "train"), size=AUDIT_SIZE, replace=False)
    audited = np.sort(np.concatenate([audited_train, np.flatnonzero(split == "test")]))
    audit_truth = true_sorted[audited]
    expert = audit_truth.copy()
    slips = rng.random(audited.size) < EXPERT_ERROR_RATE
    for row in np.flatnonzero(slips):
        expert[row] = _pick(rng, tuple(i for i in INTENTS if i != audit_truth[row]))
    audit = pd.DataFrame({"ticket_id": tickets["ticket_id"].to_numpy()[audited], "audit_label": expert})

    production = pd.DataFrame({"channel": CHANNELS,
                               "production_share": [world.production_channel_share[c] for c in CHANNELS]})

    truth = SupportTicketsTruth(
        world=world, true_label=true_sorted, label_flipped=tickets["label"].to_numpy() != true_sorted,
        copy_of=copy_of, copy_kind=kind_sorted, leaked=leaked, audit_true_label=audit_truth,
    )
    return {"support_tickets": tickets, "support_tickets_audit": audit,
            "support_tickets_production_mix": production}, truth


def generate(seed: int = CANONICAL_SEED) -> tuple[dict[str, pd.DataFrame], SupportTicketsTruth]:
    """Build the three module 02 tables from a seed (the canonical draw from its world), with the planted truth.

    The tables are fresh copies on every call; the truth's arrays are shared between calls (read them only)."""
    tables, truth = _canonical_draw(seed)
    return {name: table.copy() for name, table in tables.items()}, truth


@lru_cache(maxsize=4)
def _canonical_draw(seed: int) -> tuple[dict[str, pd.DataFrame], SupportTicketsTruth]:
    return draw(world(seed), np.random.default_rng([seed, 1]))


def fresh_draw(seed: int, number: int = 1) -> tuple[dict[str, pd.DataFrame], SupportTicketsTruth]:
    """Another export from the world of `seed` (number 1, 2, ...): same plants, different tickets."""
    return draw(world(seed), np.random.default_rng([seed, 1 + number]))


FAMILY = DatasetFamily("support_tickets", generate, CANONICAL_SEED,
                       ("support_tickets", "support_tickets_audit", "support_tickets_production_mix"))
