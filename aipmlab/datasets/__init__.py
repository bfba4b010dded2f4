"""Every dataset of the course: generated from a seed, loaded by table name.

The canonical seed's tables are committed as CSV in datasets/; any other seed is generated in
memory, through the same CSV encoding, so both paths give identical column types.

`datasets/MANIFEST.json` records the seed and SHA-256 of every file there. A file whose checksum
does not match is refused with a clear message, never silently loaded. A take-home bundle holds
the files of one seed and no generators: there the manifest is the only source of data.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
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
        known = ", ".join(available_tables())
        raise KeyError(f"There is no dataset called {table!r}. The course's datasets are: {known}.") from None


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The exact bytes a table is stored as (UTF-8, Unix newlines, no index)."""
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def csv_path(table: str) -> Path:
    """Where the canonical file of `table` lives."""
    return paths.datasets_dir() / f"{table}.csv"


MANIFEST_NAME = "MANIFEST.json"


class DataFileError(ValueError):
    """A data file is damaged, changed, or not the one this kit holds; the message says what to do."""

    def _render_traceback_(self) -> list[str]:
        """What IPython shows instead of a traceback: the message alone, never the kit's code or paths."""
        return [f"{type(self).__name__}: {self}"]


def manifest_path() -> Path:
    """Where the checksum manifest of datasets/ lives."""
    return paths.datasets_dir() / MANIFEST_NAME


def sha256(data: bytes) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(data).hexdigest()


def read_manifest() -> dict[str, dict]:
    """Manifest entries by table ({'family', 'seed', 'sha256'}); empty when there is no manifest."""
    path = manifest_path()
    if not path.exists():
        return {}
    try:
        tables = json.loads(path.read_text(encoding="utf-8"))["tables"]
        return {str(name): {"family": str(entry["family"]), "seed": int(entry["seed"]), "sha256": str(entry["sha256"])}
                for name, entry in tables.items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise DataFileError(f"{MANIFEST_NAME} in datasets/ is damaged; {_repair_advice()}") from None


def write_manifest(directory: Path, entries: dict[str, dict]) -> Path:
    """Write a manifest of `entries` (table -> family, seed, sha256) into `directory`."""
    path = directory / MANIFEST_NAME
    body = {"about": "Seed and SHA-256 of each data file; a file that does not match is refused.",
            "tables": dict(sorted(entries.items()))}
    path.write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")
    return path


def available_tables() -> list[str]:
    """Tables this kit can load: every generator's, plus those a manifest lists (a bundle has only these)."""
    return sorted(set(TABLE_FAMILY) | set(read_manifest()))


def default_seed(table: str) -> int:
    """The seed a table loads with when none is given: its generator's canonical seed, or the bundle's seed."""
    if table in TABLE_FAMILY:
        return TABLE_FAMILY[table].canonical_seed
    entry = read_manifest().get(table)
    if entry is None:
        family_of(table)  # raises the clear "no such dataset" error
    return entry["seed"]


def _repair_advice() -> str:
    if FAMILIES:
        return "rebuild the data files with `aipmlab datasets` (or `make datasets`)."
    return "unpack datasets/ again from the zip you were sent."


@lru_cache(maxsize=16)
def _generated_csv(family: str, seed: int) -> dict[str, bytes]:
    tables, _truth = FAMILIES[family].generate(seed)
    return {name: csv_bytes(frame) for name, frame in tables.items()}


def _verified_file(table: str, expected_sha256: str) -> bytes:
    data = csv_path(table).read_bytes()
    if sha256(data) != expected_sha256:
        raise DataFileError(f"datasets/{table}.csv does not match its checksum in {MANIFEST_NAME}: it was changed "
                            f"or damaged, so it is not loaded. To repair it, {_repair_advice()}")
    return data


@lru_cache(maxsize=32)
def _load_cached(table: str, seed: int) -> pd.DataFrame:
    entry = read_manifest().get(table)
    if entry is not None and entry["seed"] == seed and csv_path(table).exists():
        return pd.read_csv(io.BytesIO(_verified_file(table, entry["sha256"])))
    if table not in TABLE_FAMILY and entry is not None:
        raise DataFileError(f"This bundle holds data for seed {entry['seed']} only, and the notebook asks for seed "
                            f"{seed}. Set `seed = {entry['seed']}` in the parameters cell and run it again.")
    family = family_of(table)
    return pd.read_csv(io.BytesIO(_generated_csv(family.name, seed)[table]))


def load(table: str, seed: int | None = None) -> pd.DataFrame:
    """A fresh copy of `table` for `seed` (the committed file, checksum verified, when seed is None or canonical)."""
    fallback = default_seed(table)
    if seed is None:
        seed = fallback
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"A data seed is a non-negative whole number, such as {fallback}; got {seed!r}.")
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
    """Regenerate canonical CSVs in datasets/ (all families by default) and their manifest; returns the files written."""
    written = []
    entries = {table: entry for table, entry in _manifest_or_empty().items() if table in TABLE_FAMILY}
    for table, data in canonical_files(families).items():
        path = csv_path(table)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
        family = TABLE_FAMILY[table]
        entries[table] = {"family": family.name, "seed": family.canonical_seed, "sha256": sha256(data)}
    written.append(write_manifest(paths.datasets_dir(), entries))
    _load_cached.cache_clear()
    return written


def write_seed(directory: Path, tables: list[str], seed: int) -> list[Path]:
    """Write `tables` generated from `seed` into `directory`, with their manifest (a take-home bundle's data)."""
    directory.mkdir(parents=True, exist_ok=True)
    written, entries = [], {}
    for table in tables:
        family = family_of(table)
        data = _generated_csv(family.name, seed)[table]
        path = directory / f"{table}.csv"
        path.write_bytes(data)
        written.append(path)
        entries[table] = {"family": family.name, "seed": seed, "sha256": sha256(data)}
    written.append(write_manifest(directory, entries))
    return written


def _manifest_or_empty() -> dict[str, dict]:
    try:
        return read_manifest()
    except DataFileError:
        return {}
