"""Known-wrong answers for module 00 (start here)."""

from __future__ import annotations


def language_counts(data):
    return data.load("smart_reply_messages")["language"].value_counts().to_dict()


def slice_shares(data):
    return data.load("smart_reply_messages")["slice"].value_counts(normalize=True).to_dict()


def shares_of_code_switched_only(data):
    messages = data.load("smart_reply_messages")
    shares = messages.loc[messages["code_switched"], "language"].value_counts(normalize=True)
    return shares.reindex(messages["language"].unique(), fill_value=0.0).to_dict()


KNOWN_WRONG = {
    "language_mix": {
        "counts instead of shares": language_counts,
        "shares of slices, not languages": slice_shares,
        "shares among code-switched messages only": shares_of_code_switched_only,
    },
}
