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


# Files whose tests share expensive module-level state (a cached analysis per seed, a graded course, a batch
# of submissions): each runs whole on one test worker (`--dist loadgroup`), so no two workers build the same
# state. Module 02's truth file is not among them: its workers split the seeds and share results by file.
SHARED_STATE_FILES = ("truth/test_m0", "grader/", "takehome/", "test_nbgrader.py", "test_cohort_readme.py",
                      "test_formgrader_browser.py")
SPLIT_ACROSS_WORKERS = ("truth/test_m02_",)


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        relative = item.path.relative_to(ROOT / "tests").as_posix()
        if any(part in relative for part in SHARED_STATE_FILES) and not any(
                part in relative for part in SPLIT_ACROSS_WORKERS):
            item.add_marker(pytest.mark.xdist_group(relative))
