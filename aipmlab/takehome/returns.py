"""Finding what candidates handed back, and copying it where the grader can read it.

Expected layout of the --returned folder: one entry per candidate, named by candidate id, either a
folder `returned/ID/` or a zip `returned/ID.zip`. Inside, the notebooks keep their names
(`01-failure-boundaries.ipynb`) at any depth. Everything else (data, an `aipmlab/` folder, other
files) is ignored: only notebooks of the course's modules are taken, and only their bytes are
copied, so a file handed in beside a notebook never reaches the grader.
"""

from __future__ import annotations

import json
import os
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
    """(name, bytes) of each module notebook in a candidate's folder or zip; bytes None when too large.

    Only files named like a module's notebook are read. In a folder, symbolic links are never
    followed (a link could point at the worked solutions on this machine).
    """
    wanted = {module.notebook_name for module in course.modules()}
    found: list[tuple[str, bytes | None]] = []
    seen: set[str] = set()  # a second notebook of a module is noted, never read

    def take(name: str, size: int, read) -> None:
        base = PurePosixPath(name).name
        found.append((name, b"" if base in seen else read() if size <= MAX_NOTEBOOK_BYTES else None))
        seen.add(base)

    if source.is_dir():
        for folder, subfolders, files in os.walk(source, followlinks=False):
            subfolders[:] = sorted(d for d in subfolders if d != ".ipynb_checkpoints")
            for name in sorted(files):
                path = Path(folder) / name
                if name in wanted and not path.is_symlink() and path.is_file():
                    take(path.relative_to(source).as_posix(), path.stat().st_size, path.read_bytes)
        return found
    with zipfile.ZipFile(source) as archive:
        for info in archive.infolist():
            if PurePosixPath(info.filename).name in wanted and not info.is_dir() \
                    and ".ipynb_checkpoints" not in info.filename:
                take(info.filename, info.file_size, lambda info=info: archive.read(info))
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
        source = (folder if folder.is_dir() and not folder.is_symlink()
                  else archive if archive.is_file() and not archive.is_symlink() else None)
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
