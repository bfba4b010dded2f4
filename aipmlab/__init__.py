"""AI PM Lab: graded notebooks that teach the AI product manager's job with data."""

from aipmlab.lab import CheckFailed, IncorrectAnswer, Lab, NotAttempted

__all__ = ["Lab", "CheckFailed", "IncorrectAnswer", "NotAttempted"]
__version__ = "0.1.0"
