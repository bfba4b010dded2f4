"""Grading throughput: serial `nbgrader autograde` versus the engine, on the same submissions.

Three runs on the same class (the worked solutions and the untouched release of each module, each
handed in `--copies` times), each in its own scratch course folder so the gradebooks never meet:

* **nbgrader**: `nbgrader autograde ASSIGNMENT` with nbgrader's stock `Execute` step (the student's
  kernel decides its own checks: the untrusted baseline);
* **engine via nbgrader**: the same command with the kit's configuration, where the engine replaces
  `Execute` (the sandbox, extraction and judging);
* **aipmlab autograde**: the kit's command, nbgrader one student at a time, judged by the engine.

It prints seconds per notebook for each and the ratio of each engine run to stock nbgrader, against
the floor of 1.5× the issue sets for now. A benchmark, not a test: it asserts nothing about time and
exits 1 only when a run fails.

Usage::

    python benchmarks/grading.py                 # modules 00 and 01, two copies of each submission
    python benchmarks/grading.py --modules 01 02 --copies 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from aipmlab import course, paths  # noqa: E402

FLOOR = 1.5
STOCK_PREPROCESSORS = """
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, Execute, IgnorePattern, LimitOutput,
                                    SaveAutoGrades)
c.Autograde.autograde_preprocessors = [Execute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
                                       SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
c.KernelManager.transport = 'ipc'
c.KernelManager.ip = {ipc!r}
"""


def course_folder(folder: Path, modules: list[course.Module], stock: bool) -> None:
    """A scratch nbgrader course: the kit's configuration (stock nbgrader's autograde when `stock`), the solutions,
    and each module's release generated."""
    from tests.conftest import write_course_config

    folder.mkdir(parents=True)
    ipc = str(Path(tempfile.mkdtemp(prefix="aipmlab-bench-k")) / "k")
    write_course_config(folder, *([STOCK_PREPROCESSORS.format(ipc=ipc)] if stock else []))
    shutil.copytree(paths.solutions_dir(), folder / "solutions")
    for module in modules:
        nbgrader(folder, "generate_assignment", module.slug, "--create", "--force")


def scratch_course(folder: Path, modules: list[course.Module], copies: int, stock: bool) -> int:
    """A course folder with the release generated and every submission handed in; returns how many."""
    course_folder(folder, modules, stock)
    count = 0
    for module in modules:
        for copy in range(copies):
            for student, origin in ((f"solver{copy}", "solutions"), (f"untouched{copy}", "notebooks")):
                target = folder / "submitted" / student / module.slug
                target.mkdir(parents=True)
                shutil.copy(folder / origin / module.slug / module.notebook_name, target)
                count += 1
    return count


def _environment() -> dict[str, str]:
    tools = str(Path(sys.executable).parent)
    return dict(os.environ, PATH=tools + os.pathsep + os.environ.get("PATH", ""), PYTHONPATH=str(REPO_ROOT))


def nbgrader(folder: Path, *arguments: str) -> None:
    """Run one nbgrader app in `folder`; raise with its output when it fails."""
    result = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), *arguments], cwd=folder,
                            env=_environment(), capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(arguments)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")


def timed(run) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    """Build the class three times, grade it three ways, print seconds per notebook and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", nargs="*", default=["00", "01"], help="modules to grade (default: 00 01)")
    parser.add_argument("--copies", type=int, default=2, help="copies of each submission (default: 2)")
    arguments = parser.parse_args(argv)
    modules = [course.module(name) for name in arguments.modules]
    base = Path(tempfile.mkdtemp(prefix="aipmlab-grading-bench-"))
    try:
        seconds = {}
        for name, stock in (("nbgrader", True), ("engine via nbgrader", False), ("aipmlab autograde", False)):
            folder = base / name.replace(" ", "-")
            count = scratch_course(folder, modules, arguments.copies, stock)
            if name == "aipmlab autograde":
                command = [sys.executable, "-m", "aipmlab.cli", "autograde", "--course", str(folder)]
                runs = [lambda m=m: subprocess.run([*command, m.slug], cwd=folder, env=_environment(),
                                                   capture_output=True, check=True) for m in modules]
            else:
                runs = [lambda m=m, f=folder: nbgrader(f, "autograde", m.slug, "--force") for m in modules]
            seconds[name] = sum(timed(run) for run in runs) / count
            print(f"{name:<22} {seconds[name]:6.2f} s per notebook ({count} notebooks)", flush=True)
        for name in ("engine via nbgrader", "aipmlab autograde"):
            ratio = seconds[name] / seconds["nbgrader"]
            verdict = "within" if ratio <= FLOOR else "OVER"
            print(f"{name:<22} {ratio:5.2f}× stock nbgrader ({verdict} the {FLOOR}× floor)")
    except (RuntimeError, subprocess.CalledProcessError) as error:
        print(f"a run failed: {error}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
