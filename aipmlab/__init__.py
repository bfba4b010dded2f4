"""AI PM Lab: graded notebooks that teach the AI product manager's job with data."""

from __future__ import annotations

from typing import Any

__all__ = ["Lab", "CheckFailed", "IncorrectAnswer", "NotAttempted"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """`from aipmlab import Lab` imports the notebook side (pandas and friends) on first use, so a process that
    only needs another part of the package, such as the grader's sandbox launcher, does not pay for it."""
    if name in __all__:
        from aipmlab import lab

        return getattr(lab, name)
    raise AttributeError(f"module 'aipmlab' has no attribute {name!r}")
