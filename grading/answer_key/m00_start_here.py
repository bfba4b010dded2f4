"""Answer key for module 00. Each function takes the learner's DataSource and returns the reference."""

from aipmlab.exercises.core import DataSource


def language_mix(data: DataSource) -> dict[str, float]:
    """Each language's share of all messages."""
    return data.load("smart_reply_messages")["language"].value_counts(normalize=True).to_dict()


RUBRICS: dict = {}
