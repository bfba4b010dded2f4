"""Where the kit's folders are. Set AIPMLAB_HOME to use a copy of the kit somewhere else."""

from __future__ import annotations

import os
from pathlib import Path


def kit_root() -> Path:
    """The folder holding datasets/, solutions/ and grading/ (the repository, or a take-home bundle)."""
    override = os.environ.get("AIPMLAB_HOME")
    return Path(override).resolve() if override else Path(__file__).resolve().parent.parent


def datasets_dir() -> Path:
    """Canonical data files and their datasheets."""
    return kit_root() / "datasets"


def solutions_dir() -> Path:
    """nbgrader source notebooks (absent from a take-home bundle)."""
    return kit_root() / "solutions"


def release_dir() -> Path:
    """The student release generated from solutions/."""
    return kit_root() / "notebooks"


def grading_dir() -> Path:
    """nbgrader configuration, answer key and rubrics (absent from a take-home bundle)."""
    return kit_root() / "grading"


BUNDLE_MARKER = "TAKEHOME.json"  # at the root of a candidate's take-home bundle, and nowhere else


def in_takehome_bundle() -> bool:
    """True inside a candidate's take-home bundle: no key, no solutions, no points shown."""
    return (kit_root() / BUNDLE_MARKER).is_file()
