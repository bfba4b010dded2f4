"""The mistakes learners really make, per exercise: one file per module, each with a KNOWN_WRONG dict
{exercise key: {mistake: builder}}, where a builder takes the DataSource and returns the wrong answer.

Every check must reject every answer here (tests/test_exercises.py), and every exercise must have
at least one, so adding an exercise without its known-wrong answers fails the suite.
"""

from __future__ import annotations

import importlib
import pkgutil

KNOWN_WRONG: dict = {}
for _info in pkgutil.iter_modules(__path__):
    KNOWN_WRONG.update(importlib.import_module(f"{__name__}.{_info.name}").KNOWN_WRONG)
