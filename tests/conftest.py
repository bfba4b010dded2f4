"""Shared fixtures: the course map and the data seeds every notebook-level test runs on."""

from __future__ import annotations

from pathlib import Path

import tempfile

import pytest

ROOT = Path(__file__).resolve().parent.parent
OTHER_SEEDS = (7, 31337)  # besides each dataset's canonical seed


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def ipc_kernel_prefix() -> str:
    """A short path prefix for kernel sockets. Tests start kernels over local IPC, not TCP: when two
    test workers start kernels at once, a TCP port picked by one can be taken by the other first."""
    return str(Path(tempfile.mkdtemp(prefix="aipmlab-k")) / "kernel")


def write_course_config(course_dir: Path, *lines: str) -> None:
    """An nbgrader_config.py for a throwaway course: the kit's configuration, rooted at `course_dir`, plus `lines`."""
    from aipmlab import paths

    (course_dir / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"load_subconfig({str(paths.grading_dir() / 'nbgrader_config.py')!r})\n"
        f"c.CourseDirectory.root = {str(course_dir)!r}\n" + "".join(f"{line}\n" for line in lines))
