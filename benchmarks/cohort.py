"""A bootcamp's week: every student hands in every released module; serial nbgrader against the fast command.

Builds one class of `--students` students (default 100). Each student's notebook for each module is
made from the worked solutions with the mistakes learners make: some hand in everything right, some
get one to three exercises wrong (answers from tests/known_wrong), some stop part-way (the later
answers left as the release's stubs), a few hand in the untouched release. Each notebook carries
its student's mark in an answer cell, so no two are alike. Then, on the same machine, in one run:

* **nbgrader**: `nbgrader autograde MODULE`, serial, nbgrader's stock `Execute` (a fresh kernel per
  notebook: the baseline a course has without this kit);
* **fast**: `aipmlab autograde MODULE` (one pre-warmed parent, a forked sandboxed child per
  notebook, `--workers` at a time; recorded through nbgrader's own autograde).

It prints both times, the ratio, throughput, the peak memory of each whole process tree (the sum of
proportional set sizes, so pages a forked child shares with its parent count once), checks that
both put the same automatic score in every graded cell, and shows where the fast path's time goes.
A benchmark, not a test: it exits 1 only when a run fails or the scores differ.

Usage::

    python benchmarks/cohort.py                     # 100 students × every released module
    python benchmarks/cohort.py --students 5        # a quick run
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import nbformat  # noqa: E402

from aipmlab import course, datasets, paths  # noqa: E402
from aipmlab.lab import answer_cell_id  # noqa: E402
from benchmarks.grading import _environment, course_folder, nbgrader  # noqa: E402

PROFILES = (("complete", 0.3), ("mistakes", 0.4), ("unfinished", 0.2), ("untouched", 0.1))
TARGET, FALLBACK_TARGET = 10.0, 5.0


def _answer_cell(notebook: nbformat.NotebookNode, key: str) -> nbformat.NotebookNode:
    return next(cell for cell in notebook.cells
                if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == answer_cell_id(key))


def wrong_answers(module: course.Module) -> dict[str, list[str]]:
    """For each exercise, answer-cell code that sets a known-wrong answer (computed here, written as data)."""
    from aipmlab.exercises.core import DataSource
    from aipmlab.serialize import to_json
    from tests.known_wrong import KNOWN_WRONG

    data = DataSource(datasets.default_seed(module.tables[0]))
    found: dict[str, list[str]] = {}
    for exercise in module.exercises:
        for builder in KNOWN_WRONG.get(exercise.key, {}).values():
            try:
                text = json.dumps(to_json(builder(data)), allow_nan=False)
            except Exception:  # a mistake that is not plain data cannot be handed in as a value
                continue
            found.setdefault(exercise.key, []).append(
                f"import json\nfrom aipmlab.serialize import from_json\n\n{exercise.key} = from_json(json.loads({text!r}))")
    return found


def student_notebook(module: course.Module, student: int, chance: random.Random, wrong: dict[str, list[str]]):
    """One student's notebook for `module`, and the profile it was made with."""
    solution = nbformat.read(paths.solutions_dir() / module.slug / module.notebook_name, as_version=4)
    release = nbformat.read(paths.release_dir() / module.slug / module.notebook_name, as_version=4)
    keys = [exercise.key for exercise in module.exercises]
    profile = chance.choices([name for name, _ in PROFILES], [weight for _, weight in PROFILES])[0]
    notebook = release if profile == "untouched" else solution
    if profile == "mistakes":
        for key in chance.sample([k for k in keys if k in wrong], k=min(len(wrong), chance.randint(1, 3))):
            _answer_cell(notebook, key).source = chance.choice(wrong[key])
    elif profile == "unfinished":
        for key in keys[chance.randint(1, max(1, len(keys) - 1)):]:
            _answer_cell(notebook, key).source = _answer_cell(release, key).source
    first = _answer_cell(notebook, keys[0])
    first.source += f"\n# handed in by student {student:03d}"
    return notebook, profile


def build_class(base: Path, modules: list[course.Module], students: int) -> dict[str, int]:
    """Two identical course folders (nbgrader's and the fast command's), every student's notebook handed in."""
    chance = random.Random(2024)
    counts: dict[str, int] = {}
    folders = [base / "nbgrader", base / "fast"]
    for folder, stock in zip(folders, (True, False)):
        course_folder(folder, modules, stock)
    for module in modules:
        wrong = wrong_answers(module)
        for student in range(students):
            notebook, profile = student_notebook(module, student, chance, wrong)
            counts[profile] = counts.get(profile, 0) + 1
            for folder in folders:
                target = folder / "submitted" / f"s{student:03d}" / module.slug
                target.mkdir(parents=True)
                nbformat.write(notebook, target / module.notebook_name)
    return counts


class PeakMemory:
    """Samples a process tree's memory every half second: the peak of the sum of proportional set sizes."""

    def __init__(self, pid: int):
        import psutil

        self.root, self.peak_mib, self.done = psutil.Process(pid), 0.0, False
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        import psutil

        while not self.done:
            total = 0
            try:
                for process in [self.root, *self.root.children(recursive=True)]:
                    try:
                        total += process.memory_full_info().pss
                    except (psutil.NoSuchProcess, psutil.AccessDenied):
                        pass
            except psutil.NoSuchProcess:
                return
            self.peak_mib = max(self.peak_mib, total / 2**20)
            time.sleep(0.5)

    def stop(self) -> float:
        self.done = True
        self.thread.join()
        return self.peak_mib


def timed_run(command: list[str], folder: Path) -> tuple[float, float]:
    """Run `command` in `folder`; its wall seconds and its process tree's peak memory in MiB."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=folder, env=_environment(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    memory = PeakMemory(process.pid)
    output, _ = process.communicate()
    seconds, peak = time.perf_counter() - started, memory.stop()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{output[-3000:]}")
    return seconds, peak


def gradebook_scores(folder: Path) -> dict[tuple[str, str, str], float | None]:
    """(student, assignment, grade cell) -> automatic score, from a course's gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{folder / 'gradebook.db'}", course_id="aipmlab") as gradebook:
        return {(student.id, submission.assignment.name, grade.name): grade.auto_score
                for student in gradebook.students for submission in student.submissions
                for notebook in submission.notebooks for grade in notebook.grades}


def kernel_floor(repeats: int = 3) -> float:
    """Seconds to start a fresh kernel and import the course's libraries: what nbgrader pays per notebook first."""
    from nbclient import NotebookClient

    imports = ("import numpy, pandas, matplotlib.pyplot, seaborn, scipy.stats, sklearn.metrics, statsmodels.api\n"
               "from aipmlab import Lab, plots")
    started = time.perf_counter()
    for _ in range(repeats):
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(imports)])
        NotebookClient(notebook, kernel_name="python3", timeout=120).execute()
    return (time.perf_counter() - started) / repeats


def where_the_time_goes(base: Path, modules: list[course.Module], sample: int) -> None:
    """Grade a sample of the class once more through the fast path, timing each part of a child's work."""
    from aipmlab.grader import Limits, Submission
    from aipmlab.grader import fast

    print("\nWhere the fast path's time goes (a sample of the class, graded once more with timings):")
    profile_env = {"AIPMLAB_FAST_PROFILE": "1"}
    import os

    os.environ.update(profile_env)
    try:
        for module in modules:
            seed = datasets.default_seed(module.tables[0])
            students = sorted((base / "fast" / "submitted").iterdir())[:sample]
            submissions = [Submission(f"{path.name}/{module.slug}", path / module.slug / module.notebook_name,
                                      module.slug, seed) for path in students]
            started = time.perf_counter()
            totals: dict[str, float] = {}
            for result in fast.grade_many(submissions, Limits()):
                for part, seconds in fast.LAST_PROFILE.get(result.submission_id, {}).items():
                    totals[part] = totals.get(part, 0.0) + seconds
            wall = time.perf_counter() - started
            parts = ", ".join(f"{part} {seconds / len(submissions):.2f}" for part, seconds in sorted(totals.items()))
            warm = sum(fast.LAST_PARENT.get("warm_seconds", {}).values())
            print(f"  {module.slug:<28} per notebook (CPU s): {parts}; wall for {len(submissions)}: {wall:.1f} s, of "
                  f"which the parent's warm-up {warm:.1f} s (once per class and module)")
    finally:
        for name in profile_env:
            os.environ.pop(name, None)


def main(argv: list[str] | None = None) -> int:
    """Build the class, grade it both ways, print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=100, help="students in the class (default: 100)")
    parser.add_argument("--modules", nargs="*", help="modules to grade (default: every released module)")
    parser.add_argument("--workers", type=int, help="the fast path's children at once (default: the cores)")
    parser.add_argument("--profile-sample", type=int, default=10, help="notebooks per module in the time breakdown")
    parser.add_argument("--skip-nbgrader", action="store_true", help="time the fast command only (no comparison)")
    arguments = parser.parse_args(argv)
    modules = [course.module(name) for name in arguments.modules] if arguments.modules else [
        module for module in course.modules() if (paths.release_dir() / module.slug / module.notebook_name).exists()]
    base = Path(tempfile.mkdtemp(prefix="aipmlab-cohort-bench-"))
    try:
        counts = build_class(base, modules, arguments.students)
        notebooks = arguments.students * len(modules)
        print(f"{arguments.students} students × {len(modules)} modules = {notebooks} notebooks; profiles: "
              + ", ".join(f"{name} {count}" for name, count in sorted(counts.items())), flush=True)
        seconds, peaks = {}, {}
        tools = Path(sys.executable).parent
        runs = (("nbgrader", [str(tools / "nbgrader"), "autograde", "{slug}", "--force"]),
                ("fast", [sys.executable, "-m", "aipmlab.cli", "autograde", "{slug}", "--course", str(base / "fast")]
                 + (["--workers", str(arguments.workers)] if arguments.workers else [])))
        for name, command in runs[arguments.skip_nbgrader:]:
            seconds[name], peaks[name] = 0.0, 0.0
            for module in modules:
                spent, peak = timed_run([part.format(slug=module.slug) for part in command], base / name)
                seconds[name] += spent
                peaks[name] = max(peaks[name], peak)
                print(f"  {name:<9} {module.slug:<28} {spent:7.1f} s  {spent / arguments.students:5.2f} s/notebook  "
                      f"peak {peak:6.0f} MiB", flush=True)
        if arguments.skip_nbgrader:
            print(f"aipmlab autograde (fast)  {seconds['fast']:8.1f} s  {notebooks / seconds['fast'] * 60:7.1f} "
                  f"notebooks/min  peak {peaks['fast']:6.0f} MiB")
            where_the_time_goes(base, modules, min(arguments.profile_sample, arguments.students))
            return 0
        ratio = seconds["nbgrader"] / seconds["fast"]
        print(f"\nnbgrader (serial, stock)  {seconds['nbgrader']:8.1f} s  {notebooks / seconds['nbgrader'] * 60:7.1f} "
              f"notebooks/min  peak {peaks['nbgrader']:6.0f} MiB")
        print(f"aipmlab autograde (fast)  {seconds['fast']:8.1f} s  {notebooks / seconds['fast'] * 60:7.1f} "
              f"notebooks/min  peak {peaks['fast']:6.0f} MiB")
        print(f"ratio {ratio:.1f}× (target {TARGET:g}×; {FALLBACK_TARGET:g}× where the students' own computation "
              "rules it out)")
        stock, ours = gradebook_scores(base / "nbgrader"), gradebook_scores(base / "fast")
        differ = sorted(cell for cell in set(stock) | set(ours) if stock.get(cell) != ours.get(cell))
        print(f"same automatic score in {len(set(stock) | set(ours)) - len(differ)} of {len(set(stock) | set(ours))} "
              f"graded cells" + (f"; differ: {differ[:10]}" if differ else ""))
        print(f"\nnbgrader's floor: a fresh kernel that only imports the course's libraries takes "
              f"{kernel_floor():.2f} s, paid for every notebook")
        where_the_time_goes(base, modules, min(arguments.profile_sample, arguments.students))
        return 1 if differ else 0
    except RuntimeError as error:
        print(f"a run failed: {error}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
