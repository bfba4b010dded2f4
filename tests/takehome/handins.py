"""Hand-ins for the take-home tests: a candidate's bundle notebook filled with the worked answers, left
blank, or with a patched checker. Built from the files, the way a candidate would edit them."""

from __future__ import annotations

from pathlib import Path

import nbformat

from aipmlab import course, paths
from aipmlab.lab import answer_cell_id
from aipmlab.takehome.similarity import worked_solutions

# Code a dishonest candidate adds at the top of a notebook: every check passes, whatever the answer.
PATCHED_CHECKER = '''import aipmlab.lab
aipmlab.lab.Lab.check = lambda self, key, answer: print("✓ correct, full marks")
aipmlab.lab.Lab.verdict = lambda self, key, answer: None
'''


def fill(notebook_path: Path, module: course.Module, keys: list[str] | None = None) -> None:
    """Write the worked solution into the answer cells of `keys` (all exercises when None), in place."""
    notebook = nbformat.read(notebook_path, as_version=4)
    solutions = worked_solutions(module)
    wanted = {answer_cell_id(key): key for key in (keys if keys is not None else solutions)}
    for cell in notebook.cells:
        key = wanted.get(cell.get("metadata", {}).get("nbgrader", {}).get("grade_id"))
        if key is not None:
            cell.source = solutions[key]
    nbformat.write(notebook, notebook_path)


def patch_checker(notebook_path: Path, garbage: dict[str, str]) -> None:
    """Add a cell that patches the checker after the setup cell, and write `garbage` (key -> code) as answers."""
    notebook = nbformat.read(notebook_path, as_version=4)
    setup = next(i for i, cell in enumerate(notebook.cells) if "Lab(" in cell.source and cell.cell_type == "code")
    notebook.cells.insert(setup + 1, nbformat.v4.new_code_cell(PATCHED_CHECKER))
    for cell in notebook.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
        key = grade_id.removesuffix("-answer")
        if grade_id.endswith("-answer") and key in garbage:
            cell.source = garbage[key]
    nbformat.write(notebook, notebook_path)


def set_seed(notebook_path: Path, seed: int) -> None:
    """Change the seed in the parameters cell, as a candidate hoping for easier data might."""
    notebook = nbformat.read(notebook_path, as_version=4)
    for cell in notebook.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            cell.source = f"seed = {seed}"
    nbformat.write(notebook, notebook_path)
