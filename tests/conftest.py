"""Shared fixtures: the course map and the data seeds every notebook-level test runs on."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

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
# of submissions) run whole on one test worker, so no two workers build the same state; every other test is
# handed to whichever worker is free. Module 02's truth file is not among them: its workers split the seeds and
# share results by file. (xdist's own `loadgroup` cannot do this here: it renames node ids, which pytest 9.2
# no longer reads.)
SHARED_STATE_FILES = ("truth/test_m0", "grader/", "takehome/", "test_nbgrader.py", "test_cohort_readme.py",
                      "test_formgrader_browser.py")
SPLIT_ACROSS_WORKERS = ("truth/test_m02_",)


def runs_whole_on_one_worker(test_file: str) -> bool:
    """True for a test file (path from the repository root) whose tests share costly module-level state."""
    return any(part in test_file for part in SHARED_STATE_FILES) and not any(
        part in test_file for part in SPLIT_ACROSS_WORKERS)


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
    """xdist's scope scheduler, a scope being a whole file for `runs_whole_on_one_worker` and one test otherwise."""
    from xdist.scheduler import LoadScopeScheduling

    class SharedStateScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            test_file = nodeid.split("::", 1)[0]
            return test_file if runs_whole_on_one_worker(test_file) else nodeid

    return SharedStateScheduling(config, log)


LONGEST_FIRST = ("truth/", "grader/test_engine.py", "test_nbgrader.py", "grader/test_cohort.py")


def pytest_collection_modifyitems(items: list) -> None:
    """Hand out the longest work first (the truth files, the graded batches), so the suite ends on short tests
    instead of one worker finishing a long file while the others wait."""
    def rank(item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return next((i for i, part in enumerate(LONGEST_FIRST) if part in path), len(LONGEST_FIRST))

    items.sort(key=rank)


def pytest_xdist_auto_num_workers(config) -> int:
    """`-n auto`: one test worker more than this process may use cores. Many tests wait on a kernel or a
    subprocess, and a waiting worker leaves its core to the others (on 2 cores, with the longest work first:
    two workers 526 s, three 495 s)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cores + 1
