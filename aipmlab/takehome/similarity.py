"""Near-copies among answer cells: of the public worked solutions, and between candidates.

The method is the standard library's `difflib.SequenceMatcher` on word tokens: its ratio
(2·matched / total tokens) measures how much two cells share, and its matching blocks are the
evidence a reviewer reads. We chose it over `copydetect` (MOSS-style winnowing over folders of code
files, tokenised by Pygments according to each file's type, with thresholds in characters tuned for
whole programs) because answer cells here are short and half of them are prose; difflib needs no
new dependency, compares two strings directly and shows the shared passages word for word. A flag is evidence for
a person to weigh, never a verdict: short cells that every careful answer writes alike are skipped.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from itertools import combinations

import nbformat

from aipmlab import course, paths
from aipmlab.lab import SOLUTION_BEGIN, SOLUTION_END, answer_cell_id

TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?|[^\sA-Za-z0-9_]")
MIN_TOKENS = 25          # cells shorter than this are too short to say anything about copying
FLAG_RATIO = 0.80        # share of tokens two cells have in common, in order, to be flagged
MIN_PASSAGE_TOKENS = 8   # the shortest shared run of tokens shown as evidence
PUBLIC_SOLUTION = "the public worked solution"


@dataclass(frozen=True)
class Match:
    """One flagged pair: whose cell, which exercise, copied from what, how much, and the shared passages."""

    candidate_id: str
    exercise: str
    source: str                   # PUBLIC_SOLUTION or another candidate's id
    ratio: float
    passages: tuple[str, ...]


def tokens(text: str) -> list[str]:
    """Words, numbers and single symbols of `text`, lower-cased (layout and case do not hide a copy)."""
    return [token.lower() for token in TOKEN.findall(text)]


def _spans(text: str) -> list[tuple[int, int]]:
    return [match.span() for match in TOKEN.finditer(text)]


def answer_cells(notebook: nbformat.NotebookNode, module: course.Module) -> dict[str, str]:
    """The source of each exercise's answer cell in a notebook, by exercise key (cells found by grade id)."""
    wanted = {answer_cell_id(exercise.key): exercise.key for exercise in module.exercises}
    found: dict[str, str] = {}
    for cell in notebook.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if cell.get("cell_type") == "code" and grade_id in wanted and wanted[grade_id] not in found:
            found[wanted[grade_id]] = cell.get("source", "")
    return found


def without_stub(source: str, stub: str) -> str:
    """A cell's source without the lines the release stub already had (the same for everyone)."""
    given = {line.strip() for line in stub.splitlines()}
    return "\n".join(line for line in source.splitlines() if line.strip() not in given)


def worked_solutions(module: course.Module) -> dict[str, str]:
    """Each answer cell's solution code in solutions/, by exercise key."""
    notebook = nbformat.read(paths.solutions_dir() / module.slug / module.notebook_name, as_version=4)
    solutions = {}
    for key, source in answer_cells(notebook, module).items():
        lines = source.splitlines()
        if SOLUTION_BEGIN in lines and SOLUTION_END in lines:
            lines = lines[lines.index(SOLUTION_BEGIN) + 1: lines.index(SOLUTION_END)]
        solutions[key] = "\n".join(lines)
    return solutions


def release_stubs(module: course.Module) -> dict[str, str]:
    """Each answer cell as the release hands it out, by exercise key."""
    notebook = nbformat.read(paths.release_dir() / module.slug / module.notebook_name, as_version=4)
    return answer_cells(notebook, module)


def compare(first: str, second: str) -> tuple[float, tuple[str, ...]]:
    """How much of two cells is shared (difflib ratio on tokens) and the shared passages of `first`, longest first."""
    a, b = tokens(first), tokens(second)
    if len(a) < MIN_TOKENS or len(b) < MIN_TOKENS:
        return 0.0, ()
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    blocks = sorted((block for block in matcher.get_matching_blocks() if block.size >= MIN_PASSAGE_TOKENS),
                    key=lambda block: -block.size)
    spans = _spans(first)  # passages are quoted from the first cell as written
    return matcher.ratio(), tuple(first[spans[block.a][0]: spans[block.a + block.size - 1][1]] for block in blocks[:3])


def find_copies(cells: dict[str, dict[str, str]], module: course.Module) -> list[Match]:
    """Flag near-copies among candidates' answer cells of `module` ({candidate_id: {key: source}})."""
    stubs, solutions = release_stubs(module), worked_solutions(module)
    own = {candidate: {key: without_stub(source, stubs.get(key, "")) for key, source in by_key.items()}
           for candidate, by_key in cells.items()}
    matches = []
    for candidate, by_key in own.items():
        for key, source in by_key.items():
            ratio, passages = compare(source, solutions.get(key, ""))
            if ratio >= FLAG_RATIO:
                matches.append(Match(candidate, key, PUBLIC_SOLUTION, ratio, passages))
    for first, second in combinations(sorted(own), 2):
        for key in sorted(set(own[first]) & set(own[second])):
            ratio, passages = compare(own[first][key], own[second][key])
            if ratio >= FLAG_RATIO:
                matches.append(Match(first, key, second, ratio, passages))
                matches.append(Match(second, key, first, ratio, passages))
    return matches
