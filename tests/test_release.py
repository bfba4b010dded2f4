"""notebooks/ is exactly nbgrader's generation from solutions/, with no solution code and no hidden check."""

from __future__ import annotations

import pytest

from aipmlab import course, paths, release
from aipmlab.lab import SOLUTION_BEGIN, SOLUTION_END

MODULES = course.modules()


@pytest.fixture(scope="module")
def fresh_release(tmp_path_factory):
    root = tmp_path_factory.mktemp("release")
    release.generate_release(root)
    return root


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.slug)
def test_release_matches_a_fresh_generation(module, fresh_release):
    committed = release.release_notebook_path(module)
    assert committed.exists(), f"{committed} is missing: run `make release`"
    assert release.notebook_json(committed) == release.notebook_json(
        release.release_notebook_path(module, fresh_release)), "notebooks/ is stale: run `make release`"


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.slug)
def test_each_module_folder_carries_its_datasheets_and_links_to_them(module):
    for copy_path, text in release.datasheet_copies(module).items():
        assert copy_path.read_bytes() == text, f"{copy_path.name} in solutions/ is stale: run `make release`"
        released = release.release_notebook_path(module).parent / copy_path.name
        assert released.read_bytes() == text, f"{released} is stale: run `make release`"
    import re

    notebook = release.notebook_json(release.release_notebook_path(module))
    text = "".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown")
    folder = release.release_notebook_path(module).parent
    for target in re.findall(r"\]\(([^)#?]+)\)", text):
        if not target.startswith(("http://", "https://")):
            assert (folder / target).exists(), f"{module.notebook_name} links to {target}, which is not there"


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.slug)
def test_generated_cells_in_solutions_are_up_to_date(module):
    import copy

    import nbformat

    path = release.source_notebook_path(module)
    notebook = nbformat.read(path, as_version=4)
    refreshed = release.strip_outputs(release.refresh(copy.deepcopy(notebook), module))
    assert nbformat.writes(refreshed) == nbformat.writes(notebook), "solutions/ is stale: run `make release`"


def _solution_lines(cell_source: str) -> list[str]:
    lines = cell_source.splitlines()
    inside = lines[lines.index(SOLUTION_BEGIN) + 1: lines.index(SOLUTION_END)]
    # lines distinctive enough to recognise: not comments, brackets or short fragments of prose
    return [line for line in inside if len(line.strip()) >= 16 and not line.strip().startswith("#")]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.slug)
def test_release_holds_no_solution_code_and_no_hidden_check(module):
    source = release.notebook_json(release.source_notebook_path(module))
    released = release.notebook_json(release.release_notebook_path(module))
    released_text = "\n".join("".join(c["source"]) for c in released["cells"])
    assert "BEGIN SOLUTION" not in released_text and "HIDDEN TESTS" not in released_text
    for cell in source["cells"]:
        text = "".join(cell["source"])
        if SOLUTION_BEGIN in text:
            for line in _solution_lines(text):
                assert line not in released_text, f"solution line leaked into the release: {line!r}"
    for exercise in module.exercises:
        answer = [c for c in released["cells"]
                  if c["metadata"].get("nbgrader", {}).get("grade_id") == f"{exercise.key}-answer"]
        assert len(answer) == 1 and f"{exercise.key} = ..." in "".join(answer[0]["source"])


@pytest.mark.parametrize("folder", ["solutions", "notebooks"])
def test_notebooks_are_committed_without_outputs(folder):
    for path in sorted((paths.kit_root() / folder).glob("*/*.ipynb")):
        for cell in release.notebook_json(path)["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, f"{path.name} has outputs"


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.slug)
def test_nbgrader_metadata_follows_the_course_map(module):
    cells = release.notebook_json(release.release_notebook_path(module))["cells"]
    graded = {c["metadata"]["nbgrader"]["grade_id"]: c["metadata"]["nbgrader"]
              for c in cells if c["metadata"].get("nbgrader", {}).get("grade")}
    for exercise in module.exercises:
        if exercise.points == 0:  # a written answer: its check only gates review, so it is not a graded cell
            assert f"{exercise.key}-check" not in graded
        else:
            check = graded[f"{exercise.key}-check"]
            assert check["points"] == exercise.points and check["locked"] and not check["solution"]
        if exercise.written:
            assert graded[f"{exercise.key}-answer"]["points"] == exercise.written.manual_points
    assert sum(m["points"] for m in graded.values()) == module.autograded_points + module.manual_points


def test_every_source_folder_is_a_module_in_the_course_map():
    folders = sorted(p.name for p in paths.solutions_dir().iterdir() if p.is_dir())
    assert folders == [m.slug for m in MODULES]
    assert sorted(p.name for p in paths.release_dir().iterdir() if p.is_dir()) == folders


def test_refresh_rejects_a_notebook_missing_a_check_cell():
    import nbformat

    module = MODULES[-1]
    notebook = nbformat.read(release.source_notebook_path(module), as_version=4)
    notebook.cells = [c for c in notebook.cells if c.metadata.get("aipmlab", {}).get("generated") != "check"]
    with pytest.raises(release.NotebookLayoutError, match="check cell"):
        release.refresh(notebook, module)
