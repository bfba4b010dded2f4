"""What must never be in a bundle, and a scan for it in a bundle's folder or zip.

Forbidden: any file under grading/, solutions/ or tests/, the generators, the grader and this
package; any line of the answer key, the generators or the worked solutions that public material
(the release notebooks, the shipped package files, the datasheets) does not already hold; the
answer key's function names that appear nowhere public; the secret; every other candidate's seed.
`create` refuses to hand out a bundle this scan objects to.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from aipmlab import course, paths
from aipmlab.lab import SOLUTION_BEGIN, SOLUTION_END

MIN_LINE_CHARS = 20  # shorter lines (`return frame`, `)`) are shared by any code and prove nothing
FORBIDDEN_FOLDERS = ("grading/", "solutions/", "tests/", "aipmlab/takehome/", "aipmlab/grader/", ".git/")
DEF_NAME = re.compile(r"^def\s+(\w+)", re.MULTILINE)


@dataclass(frozen=True)
class Forbidden:
    """Everything a bundle must not contain."""

    lines: frozenset[str]        # stripped source lines known only to the course's secret half
    names: frozenset[str]        # answer-key function names that appear nowhere public
    strings: frozenset[str]      # the secret, and other candidates' seeds (matched as whole numbers)


def _lines(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines() if len(line.strip()) >= MIN_LINE_CHARS}


def _notebook_text(data: bytes) -> str:
    notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
    return "\n".join([cell.source for cell in notebook.cells] + [json.dumps(notebook.metadata)])


def _generator_files() -> list[Path]:
    """The data generators: every module of aipmlab/datasets that declares a FAMILY (they hold the plants)."""
    folder = paths.kit_root() / "aipmlab" / "datasets"
    return sorted(p for p in folder.glob("*.py") if "\nFAMILY = " in p.read_text(encoding="utf-8"))


def _solution_code() -> str:
    code = []
    for module in course.modules():
        path = paths.solutions_dir() / module.slug / module.notebook_name
        for cell in nbformat.read(path, as_version=4).cells:
            lines = cell.source.splitlines()
            if SOLUTION_BEGIN in lines and SOLUTION_END in lines:
                code += lines[lines.index(SOLUTION_BEGIN) + 1: lines.index(SOLUTION_END)]
    return "\n".join(code)


def _public_text() -> str:
    """Everything a bundle may quote: release notebooks, the package files it may hold, datasheets."""
    root, texts = paths.kit_root(), []
    for module in course.modules():
        texts.append(_notebook_text((paths.release_dir() / module.slug / module.notebook_name).read_bytes()))
    package = root / "aipmlab"
    excluded = {p.resolve() for p in _generator_files()}
    for path in package.rglob("*.py"):
        relative = path.relative_to(root).as_posix()
        if path.resolve() not in excluded and not relative.startswith(FORBIDDEN_FOLDERS):
            texts.append(path.read_text(encoding="utf-8"))
    texts += [path.read_text(encoding="utf-8") for path in paths.datasets_dir().glob("*.md")]
    return "\n".join(texts)


def forbidden(secret: bytes, other_seeds: list[int]) -> Forbidden:
    """What no bundle may contain, from the repository's secret half; `other_seeds` are other candidates'."""
    public = _public_text()
    public_lines = _lines(public)
    key_sources = [p.read_text(encoding="utf-8") for p in sorted((paths.grading_dir() / "answer_key").glob("*.py"))]
    secret_half = key_sources + [p.read_text(encoding="utf-8") for p in _generator_files()] + [_solution_code()]
    lines = set().union(*(_lines(text) for text in secret_half)) - public_lines
    names = {name for text in key_sources for name in DEF_NAME.findall(text)
             if not re.search(rf"\b{re.escape(name)}\b", public)}
    return Forbidden(frozenset(lines), frozenset(names),
                     frozenset([secret.decode("utf-8")] + [str(seed) for seed in other_seeds]))


def bundle_texts(bundle: Path) -> dict[str, bytes]:
    """Every file of a bundle by its path inside the bundle: from a folder, or from a zip (its top folder dropped)."""
    if bundle.is_dir():
        return {p.relative_to(bundle).as_posix(): p.read_bytes() for p in bundle.rglob("*") if p.is_file()}
    with zipfile.ZipFile(bundle) as archive:
        return {info.filename.split("/", 1)[1]: archive.read(info) for info in archive.infolist() if not info.is_dir()}


def find_leaks(files: dict[str, bytes], banned: Forbidden) -> list[str]:
    """One line per forbidden thing found in `files` (path -> bytes); empty when the bundle is clean."""
    generators = {f"aipmlab/datasets/{p.name}" for p in _generator_files()}
    leaks = [f"{name}: a file that never ships" for name in files
             if name.startswith(FORBIDDEN_FOLDERS) or name in generators]
    for name, data in sorted(files.items()):
        text = _notebook_text(data) if name.endswith(".ipynb") else data.decode("utf-8", errors="replace")
        for line in _lines(text) & banned.lines:
            leaks.append(f"{name}: a line of the answer key, a generator or a worked solution: {line[:60]!r}")
        for function in banned.names:
            if re.search(rf"\b{re.escape(function)}\b", text):
                leaks.append(f"{name}: the answer key's function name {function!r}")
        for string in banned.strings:
            if re.search(rf"(?<![0-9A-Za-z]){re.escape(string)}(?![0-9A-Za-z])", text):
                leaks.append(f"{name}: the secret or another candidate's seed")
    return leaks


def check_bundle(bundle: Path, banned: Forbidden) -> None:
    """Raise if a bundle (folder or zip) holds anything forbidden; the message lists the first few finds."""
    leaks = find_leaks(bundle_texts(bundle), banned)
    if leaks:
        from aipmlab.takehome.seeds import TakehomeError

        raise TakehomeError(f"{bundle.name} would leak {len(leaks)} thing(s), so nothing was handed out: "
                            + "; ".join(leaks[:3]))

