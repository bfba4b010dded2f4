"""The environment check module 00 runs: is everything the course needs here?"""

from __future__ import annotations

import sys
from importlib import metadata

from aipmlab import answer_key, course, datasets, paths

REQUIRED_PACKAGES = ("pandas", "numpy", "scipy", "statsmodels", "matplotlib", "seaborn", "nbgrader", "papermill")
MIN_PYTHON = (3, 10)
COURSE_ONLY_PACKAGES = ("nbgrader", "papermill")  # running a cohort; a take-home candidate does not need them


def environment_report() -> str:
    """One line per requirement: what was found and whether it is ok."""
    lines = []
    python_ok = sys.version_info >= MIN_PYTHON
    lines.append(_line("python", sys.version.split()[0], python_ok))
    for package in REQUIRED_PACKAGES:
        if package in COURSE_ONLY_PACKAGES and paths.in_takehome_bundle():
            continue
        try:
            lines.append(_line(package, metadata.version(package), True))
        except metadata.PackageNotFoundError:
            lines.append(_line(package, "missing: run `make lab` from the repository", False))
    for table in datasets.available_tables():
        present = datasets.csv_path(table).exists()
        lines.append(_line(f"data {table}", "found" if present else "missing: run `make datasets`", present))
    with_key = [m.slug for m in course.modules() if answer_key.load(m.code_name) is not None]
    key_state = "present: checks compare values" if with_key else "absent: checks confirm shape only"
    lines.append(_line("answer key", key_state, True))
    solutions = "present" if paths.solutions_dir().exists() else "absent (take-home bundle)"
    lines.append(_line("worked solutions", solutions, True))
    return "\n".join(lines)


def _line(item: str, found: str, ok: bool) -> str:
    return f"{'ok  ' if ok else 'FIX '} {item:<34} {found}"
