"""Every dataset of the course: generated from a seed, loaded by table name.

The canonical seed's tables are committed as CSV in datasets/; any other seed is generated in
memory, through the same CSV encoding, so both paths give identical column types.
"""

from __future__ import annotations

import importlib
import io
import pkgutil
from functools import lru_cache
from pathlib import Path

import pandas as pd

from aipmlab import paths
from aipmlab.datasets.family import DatasetFamily


def _discover() -> dict[str, DatasetFamily]:
    """Every generator module in this package that declares a FAMILY."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        family = getattr(importlib.import_module(f"{__name__}.{info.name}"), "FAMILY", None)
        if isinstance(family, DatasetFamily):
            found[family.name] = family
    return dict(sorted(found.items()))


FAMILIES = _discover()
TABLE_FAMILY = {table: family for family in FAMILIES.values() for table in family.tables}


def family_of(table: str) -> DatasetFamily:
    """The family that produces `table`, or a clear error naming the tables that exist."""
    try:
        return TABLE_FAMILY[table]
    except KeyError:
        known = ", ".join(sorted(TABLE_FAMILY))
        raise KeyError(f"There is no dataset called {table!r}. The course's datasets are: {known}.") from None


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The exact bytes a table is stored as (UTF-8, Unix newlines, no index)."""
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def csv_path(table: str) -> Path:
    """Where the canonical file of `table` lives."""
    return paths.datasets_dir() / f"{table}.csv"


@lru_cache(maxsize=16)
def _generated_csv(family: str, seed: int) -> dict[str, bytes]:
    tables, _truth = FAMILIES[family].generate(seed)
    return {name: csv_bytes(frame) for name, frame in tables.items()}


@lru_cache(maxsize=32)
def _load_cached(table: str, seed: int) -> pd.DataFrame:
    family = family_of(table)
    if seed == family.canonical_seed and csv_path(table).exists():
        return pd.read_csv(csv_path(table))
    return pd.read_csv(io.BytesIO(_generated_csv(family.name, seed)[table]))


def load(table: str, seed: int | None = None) -> pd.DataFrame:
    """A fresh copy of `table` for `seed` (the canonical file when seed is None or canonical)."""
    family = family_of(table)
    if seed is None:
        seed = family.canonical_seed
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"A data seed is a non-negative whole number, such as {family.canonical_seed}; got {seed!r}.")
    return _load_cached(table, seed).copy()


def canonical_files(families: list[str] | None = None) -> dict[str, bytes]:
    """Canonical CSVs by table name, regenerated from their family's canonical seed (all families by default)."""
    files: dict[str, bytes] = {}
    for name in families or FAMILIES:
        if name not in FAMILIES:
            raise KeyError(f"There is no dataset family {name!r}. The families are: {', '.join(FAMILIES)}.")
        files.update(_generated_csv(name, FAMILIES[name].canonical_seed))
    return files


def write_canonical(families: list[str] | None = None) -> list[Path]:
    """Regenerate canonical CSVs in datasets/ (all families by default); returns the files written."""
    written = []
    for table, data in canonical_files(families).items():
        path = csv_path(table)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    return written
