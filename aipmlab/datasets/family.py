"""What a dataset generator declares: its tables and its canonical seed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import pandas as pd

Generator = Callable[[int], tuple[dict[str, pd.DataFrame], Any]]


@dataclass(frozen=True)
class DatasetFamily:
    """Tables that one generator produces together from one seed (plus the planted truth it keeps)."""

    name: str
    generate: Generator
    canonical_seed: int
    tables: tuple[str, ...]
