"""Keep the source notebooks in step with the course map, and generate the student release.

Cells that are derived rather than written (the header, each exercise's heading and check cell,
the footer) carry `metadata.aipmlab.generated` and are rewritten from the exercise definitions,
so points, titles and grade ids have one home. The release is nbgrader's own
`generate_assignment`, run on solutions/.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import nbformat

from aipmlab import course, paths
from aipmlab.exercises.core import Exercise
from aipmlab.lab import answer_cell_id, check_cell_id

NBGRADER_SCHEMA = 3


class SourceNotebookError(ValueError):
    """A source notebook cannot be used: missing, empty, not UTF-8, not a notebook, or laid out wrongly."""


class NotebookLayoutError(SourceNotebookError):
    """A source notebook is missing a cell the course map expects, or has one out of order."""


def read_source(path: Path) -> Any:
    """Read a source notebook, or raise SourceNotebookError saying in one line what is wrong with it."""
    where = path.relative_to(paths.kit_root()) if path.is_relative_to(paths.kit_root()) else path
    if not path.exists():
        raise SourceNotebookError(f"{where} does not exist; each module needs its source notebook there.")
    raw = path.read_bytes()
    if not raw.strip():
        raise SourceNotebookError(f"{where} is empty; restore it from git (git checkout -- {where}).")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SourceNotebookError(f"{where} is not UTF-8 text; a notebook is UTF-8 JSON.") from None
    try:
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # nbformat raises many kinds (JSON, schema, conversion) for a broken file
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SourceNotebookError(f"{where} is not a valid notebook ({first[:120]}).") from None
    return notebook


def source_notebook_path(module: course.Module) -> Path:
    """solutions/NN-slug/NN-slug.ipynb."""
    return paths.solutions_dir() / module.slug / module.notebook_name


def release_notebook_path(module: course.Module, release_root: Path | None = None) -> Path:
    """notebooks/NN-slug/NN-slug.ipynb (or the same under another release root)."""
    return (release_root or paths.release_dir()) / module.slug / module.notebook_name


def _nbgrader(grade_id: str, *, grade: bool, solution: bool, locked: bool, points: int | None = None) -> dict:
    meta: dict[str, Any] = {"grade": grade, "grade_id": grade_id, "locked": locked,
                            "schema_version": NBGRADER_SCHEMA, "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return meta


def header_markdown(module: course.Module) -> str:
    """The title block every notebook opens with."""
    manual = f" + {module.manual_points} reviewed by rubric" if module.manual_points else ""
    return (f"# {module.number:02d} · {module.title}\n\n*{module.purpose}*\n\n"
            f"**Time:** about {module.minutes} minutes · **Exercises:** {len(module.exercises)} · "
            f"**Points:** {module.autograded_points} checked automatically{manual}")


def footer_markdown(module: course.Module) -> str:
    """Navigation to the previous and next modules."""
    ordered = course.modules()
    position = [m.slug for m in ordered].index(module.slug)
    parts = []
    if position > 0:
        previous = ordered[position - 1]
        parts.append(f"← [{previous.number:02d} · {previous.title}](../{previous.slug}/{previous.notebook_name})")
    if position + 1 < len(ordered):
        following = ordered[position + 1]
        parts.append(f"Next: [{following.number:02d} · {following.title}](../{following.slug}/{following.notebook_name}) →")
    else:
        parts.append("This is the last module published so far.")
    return "---\n\n" + " · ".join(parts)


def path_markdown() -> str:
    """The learning path: published modules with links, then the ones still to come."""
    rows = ["## The learning path", "", "| module | what you do | time |", "| --- | --- | --- |"]
    published = {f"{m.number:02d}" for m in course.modules()}
    for m in course.modules():
        rows.append(f"| [{m.number:02d} · {m.title}](../{m.slug}/{m.notebook_name}) | {m.purpose} | {m.minutes} min |")
    for number, title, summary in course.PLANNED:
        if number not in published:
            rows.append(f"| {number} · {title} *(coming)* | {summary} | |")
    return "\n".join(rows)


def exercise_markdown(exercise: Exercise) -> str:
    """The heading of an exercise: number, title, points, the variable to fill in, where help is."""
    parts = [f"{exercise.points} point{'s' if exercise.points != 1 else ''}"] if exercise.points else []
    if exercise.written:
        parts.append(f"{exercise.written.manual_points} from a reviewer's rubric")
    points = " + ".join(parts)
    return (f"### Exercise {exercise.number} · {exercise.title} ({points})\n\n"
            f"Fill in `{exercise.key}`: {exercise.expects}. Stuck? `lab.hint(\"{exercise.key}\")`. "
            f"Done, or out of ideas? `lab.solution(\"{exercise.key}\")` shows a worked answer.")


def check_source(exercise: Exercise) -> str:
    """The locked test cell: a docstring saying what it checks, then one call."""
    title = exercise.title if exercise.title[-1] in ".?!" else exercise.title + "."
    return f'"""Checks exercise {exercise.number}: {title}"""\nlab.check("{exercise.key}", {exercise.key})'


def _generated(cell: Any) -> tuple[str | None, str | None]:
    meta = cell.get("metadata", {}).get("aipmlab", {})
    return meta.get("generated"), meta.get("key")


def refresh(notebook: Any, module: course.Module) -> Any:
    """Rewrite every generated cell and the nbgrader metadata of answer cells from the course map."""
    seen: dict[str, list[str]] = {exercise.key: [] for exercise in module.exercises}
    for cell in notebook.cells:
        kind, key = _generated(cell)
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
        if kind == "header":
            cell.source = header_markdown(module)
        elif kind == "footer":
            cell.source = footer_markdown(module)
        elif kind == "path":
            cell.source = path_markdown()
        elif kind in ("exercise", "check"):
            exercise = module.exercise(key)
            seen[key].append(kind)
            if kind == "exercise":
                cell.source = exercise_markdown(exercise)
            else:
                cell.source = check_source(exercise)
                graded = exercise.points > 0  # a written answer's check only says "ready for review"
                cell.metadata["nbgrader"] = _nbgrader(check_cell_id(key), grade=graded, solution=False,
                                                      locked=True, points=exercise.points if graded else None)
        elif grade_id.endswith("-answer"):
            exercise = module.exercise(grade_id.removesuffix("-answer"))
            seen[exercise.key].append("answer")
            manual = exercise.written.manual_points if exercise.written else None
            cell.metadata["nbgrader"] = _nbgrader(answer_cell_id(exercise.key), grade=manual is not None,
                                                  solution=True, locked=False, points=manual)
    for key, kinds in seen.items():
        if kinds != ["exercise", "answer", "check"]:
            raise NotebookLayoutError(
                f"{module.notebook_name}: exercise {key!r} needs, in this order, one heading cell, one answer "
                f"cell (grade_id {answer_cell_id(key)!r}) and one check cell; found {kinds or 'none'}.")
    return notebook


def strip_outputs(notebook: Any) -> Any:
    """Remove outputs and execution counts from every code cell."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    notebook.metadata.pop("papermill", None)
    return notebook


def write_notebook(notebook: Any, path: Path) -> bool:
    """Write `notebook` in nbformat's canonical form; returns True when the file changed."""
    text = nbformat.writes(notebook) + "\n"
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def datasheet_copies(module: course.Module) -> dict[Path, bytes]:
    """The datasheets of a module's tables, copied into its source folder so every release carries them
    and a notebook can link to them by file name, wherever the learner opens it."""
    folder = source_notebook_path(module).parent
    return {folder / f"{table}.md": (paths.datasets_dir() / f"{table}.md").read_bytes() for table in module.tables}


def refresh_sources(modules: tuple[course.Module, ...] | None = None) -> list[Path]:
    """Refresh source notebooks and their datasheet copies in place (all modules by default); returns what changed."""
    changed = []
    for module in modules or course.modules():
        path = source_notebook_path(module)
        notebook = strip_outputs(refresh(read_source(path), module))
        if write_notebook(notebook, path):
            changed.append(path)
        for copy_path, text in datasheet_copies(module).items():
            if not copy_path.exists() or copy_path.read_bytes() != text:
                copy_path.write_bytes(text)
                changed.append(copy_path)
    return changed


def generate_release(release_root: Path, modules: tuple[course.Module, ...] | None = None) -> list[Path]:
    """Run nbgrader generate_assignment on modules (all by default) into `release_root`; returns the notebooks."""
    from nbgrader.apps.api import NbGraderAPI
    from traitlets.config import Config

    _put_interpreter_tools_on_path()  # nbgrader calls `alembic` by name
    written = []
    with tempfile.TemporaryDirectory() as scratch:
        config = Config()
        config.CourseDirectory.root = str(paths.kit_root())
        config.CourseDirectory.source_directory = "solutions"
        config.CourseDirectory.release_directory = str(Path(scratch) / "release")
        config.CourseDirectory.db_url = f"sqlite:///{Path(scratch) / 'gradebook.db'}"
        config.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE"}
        config.ClearSolutions.text_stub = "YOUR ANSWER HERE"
        api = NbGraderAPI(config=config)
        for module in modules or course.modules():
            result = api.generate_assignment(module.slug, force=True, create=True)
            if not result["success"]:
                raise RuntimeError(f"nbgrader could not generate {module.slug}:\n{result.get('log', '')}\n"
                                   f"{result.get('error', '')}")
            generated = Path(scratch) / "release" / module.slug / module.notebook_name
            target = release_notebook_path(module, release_root)
            target.parent.mkdir(parents=True, exist_ok=True)
            write_notebook(nbformat.read(generated, as_version=4), target)
            for extra in sorted(generated.parent.iterdir()):  # the datasheets that travel with the notebook
                if extra.is_file() and extra.suffix != ".ipynb":
                    shutil.copy2(extra, target.parent / extra.name)
            written.append(target)
    return written


def _put_interpreter_tools_on_path() -> None:
    tools = str(Path(sys.executable).parent)
    if tools not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = tools + os.pathsep + os.environ.get("PATH", "")


def release(modules: tuple[course.Module, ...] | None = None) -> list[Path]:
    """Refresh sources, then regenerate notebooks/ (replacing each module folder wholesale)."""
    modules = modules or course.modules()
    refresh_sources(modules)
    with tempfile.TemporaryDirectory() as staging:
        generated = generate_release(Path(staging), modules)
        for path in generated:
            target_folder = paths.release_dir() / path.parent.name
            if target_folder.exists():
                shutil.rmtree(target_folder)
            shutil.copytree(path.parent, target_folder)
    return [release_notebook_path(module) for module in modules]


def notebook_json(path: Path) -> dict:
    """A notebook's JSON, for comparing a committed file with a fresh generation."""
    return json.loads(path.read_text(encoding="utf-8"))
