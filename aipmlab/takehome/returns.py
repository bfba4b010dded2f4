"""Finding what candidates handed back, and copying it where the grader can read it.

Expected layout of the --returned folder: one entry per candidate, named by candidate id, either a
folder `returned/ID/` or a zip `returned/ID.zip`. Inside, the notebooks keep their names
(`01-failure-boundaries.ipynb`) at any depth. Everything else (data, an `aipmlab/` folder, other
files) is ignored: only notebooks of the course's modules are taken, and only their bytes are
copied, so a file handed in beside a notebook never reaches the grader.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import nbformat

from aipmlab import course
from aipmlab.takehome.bundle import SEED_LINE, TAKEHOME_METADATA
from aipmlab.takehome.seeds import Candidate

MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024  # a notebook larger than this is refused, not read


@dataclass
class Handed:
    """What one candidate handed in: a notebook per module, and anything worth telling the reviewer."""

    candidate: Candidate
    notebooks: dict[str, Path] = field(default_factory=dict)  # module slug -> the grader's copy
    notes: list[str] = field(default_factory=list)


def _module_of(name: str) -> course.Module | None:
    for module in course.modules():
        if PurePosixPath(name).name == module.notebook_name:
            return module
    return None


def _entries(source: Path) -> list[tuple[str, bytes | None]]:
    """(name, bytes) of every notebook in a candidate's folder or zip; bytes None when too large."""
    found: list[tuple[str, bytes | None]] = []
    if source.is_dir():
        for path in sorted(source.rglob("*.ipynb")):
            if path.is_file() and not path.is_symlink() and ".ipynb_checkpoints" not in path.parts:
                found.append((path.relative_to(source).as_posix(),
                              path.read_bytes() if path.stat().st_size <= MAX_NOTEBOOK_BYTES else None))
        return found
    with zipfile.ZipFile(source) as archive:
        for info in archive.infolist():
            if info.filename.endswith(".ipynb") and not info.is_dir() and ".ipynb_checkpoints" not in info.filename:
                found.append((info.filename,
                              archive.read(info) if info.file_size <= MAX_NOTEBOOK_BYTES else None))
    return found


def stated_seed(notebook_bytes: bytes) -> int | None:
    """The seed a returned notebook states (its parameters cell, else its metadata), or None."""
    try:
        notebook = nbformat.reads(notebook_bytes.decode("utf-8"), as_version=4)
    except Exception:  # a malformed notebook: the engine records why; here we only look for a seed
        return None
    for cell in notebook.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            match = SEED_LINE.search(cell.get("source", ""))
            if match:
                number = re.search(r"\d+", match.group(0))
                return int(number.group(0)) if number else None
    seed = notebook.metadata.get("aipmlab", {}).get(TAKEHOME_METADATA, {}).get("seed")
    return seed if isinstance(seed, int) else None


def collect(returned: Path, candidates: list[Candidate], seeds: dict[str, int], work: Path) -> list[Handed]:
    """Each candidate's returned notebooks, copied to `work/ID/SLUG.ipynb`, with notes on anything odd."""
    if not returned.is_dir():
        raise FileNotFoundError(f"The returned folder {returned} does not exist.")
    known = {candidate.candidate_id for candidate in candidates}
    strays = sorted(p.name for p in returned.iterdir()
                    if (p.stem if p.suffix == ".zip" else p.name) not in known and not p.name.startswith("."))
    if strays:
        print(f"ignored in {returned}: {', '.join(strays[:5])} (not a candidate id from the candidates file)")
    handed_in = []
    for candidate in candidates:
        handed = Handed(candidate)
        handed_in.append(handed)
        folder, archive = returned / candidate.candidate_id, returned / f"{candidate.candidate_id}.zip"
        source = folder if folder.is_dir() else archive if archive.is_file() else None
        if source is None:
            handed.notes.append("Nothing was handed in.")
            continue
        try:
            entries = _entries(source)
        except zipfile.BadZipFile:
            handed.notes.append(f"{source.name} is not a readable zip file.")
            continue
        for name, data in entries:
            module = _module_of(name)
            if module is None:
                continue
            if data is None:
                handed.notes.append(f"{name} is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB and was not graded.")
                continue
            if module.slug in handed.notebooks:
                handed.notes.append(f"More than one {module.notebook_name} was handed in; graded the first, "
                                    f"{json.dumps(name)} was ignored.")
                continue
            stated = stated_seed(data)
            if stated is not None and stated != seeds[candidate.candidate_id]:
                handed.notes.append(f"{module.notebook_name} states seed {stated}, not the seed issued to this "
                                    f"candidate; it was graded on the issued seed.")
            copy = work / candidate.candidate_id / module.notebook_name
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(data)
            handed.notebooks[module.slug] = copy
    return handed_in
