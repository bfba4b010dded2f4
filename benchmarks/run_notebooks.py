"""Benchmark every solution notebook against its floor: wall-clock seconds and kernel peak memory.

Each solution notebook ``solutions/NN-slug/NN-slug.ipynb`` is run with papermill next to its
*floor*: a notebook whose only code cell imports the same libraries the solution imports (every
top-level ``import x`` / ``from x import y`` found in its code cells). The floor therefore costs
what no notebook can avoid -- starting a kernel, importing pandas, matplotlib and friends, and
shutting down -- and the solution's cost above the floor is the work the notebook actually does.

Both are run alternately (floor, notebook, floor, notebook, ...) in the same process, so they
see the same machine state, and the median of ``--repeat`` runs is reported. The headline figure
is the *ratio* wall / floor, not the absolute seconds: on a shared, noisy or throttled machine
both numbers drift up and down together, while their ratio stays comparable between runs and
between machines. Absolute seconds are still printed, and ``--budget-seconds`` / ``--budget-mib``
add a "within budget" column, but nothing here asserts on time: the exit code is 1 only when a
notebook (or its floor) fails to run.

Papermill, by default, writes the whole notebook to disk twice per cell (when the cell starts and
when it ends) so a crashed run leaves a partial copy. That is the harness's cost, not the notebook's:
a learner's JupyterLab does not do it, and it grows with the number of cells and the size of the
figures already drawn (about 0.5 s on a 28-cell module here). The benchmark turns it off
(``request_save_on_cell_execute=False``) for the floor and the notebook alike; the executed copy is
still written once at the end.

Peak memory is the kernel process's own peak resident set size, printed by a probe cell appended
to an in-memory copy of each notebook (``resource.getrusage(RUSAGE_SELF).ru_maxrss``, KiB on
Linux) and read back from the executed notebook's outputs.

Usage::

    python benchmarks/run_notebooks.py                      # every solution notebook, median of 3 runs
    python benchmarks/run_notebooks.py --repeat 5 --json bench.json
    python benchmarks/run_notebooks.py path/to/one.ipynb --seed 7 --budget-seconds 60 --budget-mib 800
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import papermill
from papermill.exceptions import PapermillExecutionError

REPO_ROOT = Path(__file__).resolve().parent.parent
KERNEL_NAME = "python3"
PEAK_MARKER = "AIPMLAB-BENCHMARK-PEAK-RSS-KIB"
PROBE_SOURCE = (
    "import resource as _aipmlab_resource\n"
    f"print('{PEAK_MARKER}=%d' % _aipmlab_resource.getrusage(_aipmlab_resource.RUSAGE_SELF).ru_maxrss)"
)
PEAK_PATTERN = re.compile(rf"{PEAK_MARKER}=(\d+)")


@dataclass
class Result:
    """Figures for one solution notebook and its floor."""

    notebook: str
    wall_runs: list[float] = field(default_factory=list)
    floor_runs: list[float] = field(default_factory=list)
    peak_kib_runs: list[int] = field(default_factory=list)
    floor_peak_kib_runs: list[int] = field(default_factory=list)
    error: str | None = None

    @property
    def wall_s(self) -> float:
        """Median wall-clock seconds of the solution notebook."""
        return statistics.median(self.wall_runs)

    @property
    def floor_s(self) -> float:
        """Median wall-clock seconds of the floor notebook."""
        return statistics.median(self.floor_runs)

    @property
    def ratio(self) -> float:
        """Median solution seconds over median floor seconds."""
        return self.wall_s / self.floor_s

    @property
    def peak_mib(self) -> float:
        """Highest kernel peak RSS of the solution notebook over all runs, in MiB."""
        return max(self.peak_kib_runs) / 1024

    @property
    def floor_peak_mib(self) -> float:
        """Highest kernel peak RSS of the floor notebook over all runs, in MiB."""
        return max(self.floor_peak_kib_runs) / 1024


def discover_notebooks(root: Path) -> list[Path]:
    """Every solutions/NN-slug/NN-slug.ipynb under the repository root, in module order."""
    candidates = sorted((root / "solutions").glob("[0-9][0-9]-*/[0-9][0-9]-*.ipynb"))
    return [path for path in candidates if path.stem == path.parent.name]


def collect_imports(nb: nbformat.NotebookNode) -> list[str]:
    """Top-level import statements of the notebook's code cells, deduplicated, in order of appearance."""
    statements: list[str] = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:  # IPython magics, shell escapes, deliberately broken exercise cells
            continue
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                statement = ast.unparse(node)
                if statement not in statements:
                    statements.append(statement)
    # `from __future__` imports are only legal at the top of a cell.
    statements.sort(key=lambda s: not s.startswith("from __future__"))
    return statements


def with_probe(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of the notebook with a final cell that prints the kernel's peak RSS behind the marker."""
    probed = copy.deepcopy(nb)
    probe = nbformat.v4.new_code_cell(PROBE_SOURCE)
    probe.metadata["tags"] = ["benchmark-probe"]
    probed.cells.append(probe)
    return probed


def build_floor(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A notebook whose only code cell imports what the given notebook imports (same kernel metadata)."""
    floor = nbformat.v4.new_notebook(metadata=copy.deepcopy(nb.metadata))
    floor.cells.append(nbformat.v4.new_code_cell("\n".join(collect_imports(nb))))
    return floor


def read_peak_kib(executed: nbformat.NotebookNode) -> int:
    """The peak RSS (KiB) the probe cell printed, read from the executed notebook's outputs."""
    for cell in reversed(executed.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                match = PEAK_PATTERN.search(output.get("text", ""))
                if match:
                    return int(match.group(1))
    raise RuntimeError(f"the probe cell's {PEAK_MARKER} line is missing from the outputs")


def run_once(
    nb: nbformat.NotebookNode, cwd: Path, output_path: Path, parameters: dict[str, Any] | None
) -> tuple[float, int]:
    """Execute one notebook with papermill; return its wall-clock seconds and the kernel's peak RSS in KiB."""
    fresh = copy.deepcopy(nb)
    start = time.perf_counter()
    executed = papermill.execute_notebook(
        fresh,
        str(output_path),
        parameters=parameters,
        kernel_name=KERNEL_NAME,
        language="python",
        cwd=str(cwd),
        log_output=False,
        progress_bar=False,
        request_save_on_cell_execute=False,  # no per-cell save: see the module's docstring
    )
    elapsed = time.perf_counter() - start
    return elapsed, read_peak_kib(executed)


def describe_error(exc: Exception) -> str:
    """A one-line account of a failure: the cell and the notebook's own exception when papermill has them."""
    if isinstance(exc, PapermillExecutionError):
        return f"cell {exc.cell_index} (In [{exc.exec_count}]) raised {exc.ename}: {exc.evalue}"
    first_line = next((line for line in str(exc).splitlines() if line.strip()), "")
    return f"{type(exc).__name__}: {first_line}"


def display_name(path: Path) -> str:
    """The notebook's path relative to the repository root when it lies inside it."""
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def benchmark(path: Path, repeat: int, seed: int | None, workdir: Path) -> Result:
    """Run a notebook and its floor alternately `repeat` times and collect their figures."""
    result = Result(notebook=display_name(path))
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # noqa: BLE001 -- missing or malformed file: report it like a failed run
        result.error = f"could not read the notebook: {describe_error(exc)}"
        return result
    solution, floor = with_probe(nb), with_probe(build_floor(nb))
    parameters = None if seed is None else {"seed": seed}
    for run in range(repeat):
        stage = "floor"
        try:
            seconds, peak = run_once(floor, path.parent, workdir / f"{path.stem}.floor.{run}.ipynb", None)
            result.floor_runs.append(seconds)
            result.floor_peak_kib_runs.append(peak)
            stage = "notebook"
            seconds, peak = run_once(solution, path.parent, workdir / f"{path.stem}.{run}.ipynb", parameters)
            result.wall_runs.append(seconds)
            result.peak_kib_runs.append(peak)
        except Exception as exc:  # noqa: BLE001 -- any failure is reported, then the next notebook runs
            result.error = f"{stage} failed on run {run + 1}: {describe_error(exc)}"
            break
    return result


def within_budget(peak_mib: float, wall_s: float, budget_seconds: float | None, budget_mib: float | None) -> bool:
    """Whether the figures stay inside every budget that was given."""
    return (budget_seconds is None or wall_s <= budget_seconds) and (budget_mib is None or peak_mib <= budget_mib)


def totals(results: list[Result]) -> dict[str, float]:
    """Sum of walls, sum of floors, their ratio and the highest peaks over the notebooks that ran."""
    ok = [r for r in results if r.error is None]
    wall = sum(r.wall_s for r in ok)
    floor = sum(r.floor_s for r in ok)
    return {
        "wall_s": wall,
        "floor_s": floor,
        "ratio": wall / floor if floor else float("nan"),
        "peak_mib": max((r.peak_mib for r in ok), default=float("nan")),
        "floor_peak_mib": max((r.floor_peak_mib for r in ok), default=float("nan")),
    }


def format_table(results: list[Result], budget_seconds: float | None, budget_mib: float | None) -> str:
    """The results as a plain-text table with a TOTAL row."""
    budgeted = budget_seconds is not None or budget_mib is not None
    header = ["notebook", "wall s", "floor s", "ratio", "peak MiB", "floor peak MiB"]
    if budgeted:
        header.append("within budget")
    rows: list[list[str]] = []
    for r in results:
        if r.error is not None:
            rows.append([r.notebook, "FAILED", "", "", "", ""] + ([""] if budgeted else []))
            continue
        row = [r.notebook, f"{r.wall_s:.2f}", f"{r.floor_s:.2f}", f"{r.ratio:.2f}", f"{r.peak_mib:.0f}",
               f"{r.floor_peak_mib:.0f}"]
        if budgeted:
            row.append("yes" if within_budget(r.peak_mib, r.wall_s, budget_seconds, budget_mib) else "no")
        rows.append(row)
    t = totals(results)
    total_row = ["TOTAL", f"{t['wall_s']:.2f}", f"{t['floor_s']:.2f}", f"{t['ratio']:.2f}", f"{t['peak_mib']:.0f}",
                 f"{t['floor_peak_mib']:.0f}"]
    if budgeted:
        all_ok = all(r.error is None and within_budget(r.peak_mib, r.wall_s, budget_seconds, budget_mib)
                     for r in results)
        total_row.append("yes" if all_ok else "no")
    table = [header, *rows, total_row]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        """One row: the first column left-aligned, the figures right-aligned."""
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *map(line, rows), rule, line(total_row)])


def to_json(results: list[Result], args: argparse.Namespace) -> dict[str, Any]:
    """Every figure, the individual runs and the run settings, ready for json.dump."""
    notebooks = []
    for r in results:
        entry: dict[str, Any] = asdict(r)
        if r.error is None:
            entry.update(wall_s=r.wall_s, floor_s=r.floor_s, ratio=r.ratio, peak_mib=r.peak_mib,
                         floor_peak_mib=r.floor_peak_mib)
            if args.budget_seconds is not None or args.budget_mib is not None:
                entry["within_budget"] = within_budget(r.peak_mib, r.wall_s, args.budget_seconds, args.budget_mib)
        notebooks.append(entry)
    return {
        "settings": {"repeat": args.repeat, "seed": args.seed, "budget_seconds": args.budget_seconds,
                     "budget_mib": args.budget_mib, "kernel": KERNEL_NAME},
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count()},
        "notebooks": notebooks,
        "total": {k: (None if v != v else v) for k, v in totals(results).items()},  # NaN is not JSON
        "failures": [{"notebook": r.notebook, "error": r.error} for r in results if r.error is not None],
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        description="Time every solution notebook against its floor (kernel start + the same imports) "
        "and report wall seconds, wall/floor ratios and kernel peak memory. Exits 1 only if a notebook fails.",
    )
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to benchmark (default: every solutions/NN-slug/NN-slug.ipynb)")
    parser.add_argument("--seed", type=int, default=None,
                        help="value injected as the `seed` parameter (default: the notebook's own parameters)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="floor/notebook pairs to run per notebook; medians are reported (default: 3, since "
                             "one pair's ratio moves by several hundredths on a busy machine)")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("--budget-seconds", type=float, default=None, metavar="X",
                        help="wall-seconds budget per notebook; only adds a 'within budget' column")
    parser.add_argument("--budget-mib", type=float, default=None, metavar="Y",
                        help="peak-memory budget (MiB) per notebook; only adds a 'within budget' column")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def prepare_environment() -> None:
    """Kernels inherit this: the repository on the path so `import aipmlab` works, and no MPLBACKEND
    override, so plots render with the inline backend as they do for a learner."""
    os.environ.pop("MPLBACKEND", None)
    existing = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), existing] if existing else [str(REPO_ROOT)])


def main(argv: list[str] | None = None) -> int:
    """Benchmark the notebooks, print the table, optionally write JSON; 1 if any notebook failed."""
    args = parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or discover_notebooks(REPO_ROOT)
    if not paths:
        print(f"No solution notebooks found under {REPO_ROOT / 'solutions'}; nothing to benchmark.")
        return 0
    prepare_environment()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="aipmlab-bench-") as tmp:
        for index, path in enumerate(paths, start=1):
            print(f"[{index}/{len(paths)}] {display_name(path)}", file=sys.stderr, flush=True)
            workdir = Path(tmp) / f"{index:03d}"
            workdir.mkdir()
            results.append(benchmark(path, args.repeat, args.seed, workdir))
    print(f"repeat={args.repeat}  seed={'notebook default' if args.seed is None else args.seed}  "
          f"(ratio = wall / floor; floor = kernel start + the notebook's imports)")
    print(format_table(results, args.budget_seconds, args.budget_mib))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(to_json(results, args), indent=2) + "\n")
        print(f"Wrote {args.json}")
    failures = [r for r in results if r.error is not None]
    for r in failures:
        print(f"FAILED: {r.notebook}: {r.error}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
