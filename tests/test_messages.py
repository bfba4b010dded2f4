"""What a learner sees when a check fails: the message, wrapped, and never the kit's code, paths or the answer."""

from __future__ import annotations

import nbformat
import pytest

from aipmlab import course, release
from tests.conftest import ipc_kernel_prefix


def test_a_failed_check_in_a_notebook_shows_the_message_and_no_kit_frame(tmp_path):
    module = course.module("00")
    notebook = nbformat.read(release.release_notebook_path(module), as_version=4)
    for cell in notebook.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "language_mix-answer":
            cell.source = "language_mix = {'English': 1.0}  # a wrong answer a learner might try"
    source = tmp_path / module.notebook_name
    nbformat.write(notebook, source)
    executed = _run_allowing_errors(source, tmp_path)
    check = next(c for c in executed.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "language_mix-check")
    errors = [o for o in check.outputs if o.output_type == "error"]
    assert len(errors) == 1, "the check must still fail, so nbgrader scores it zero"
    shown = "\n".join(errors[0].traceback)
    assert "Exercise 1 (language_mix): not yet." in shown and "lab.hint('language_mix'" in shown
    assert "aipmlab/" not in shown and "File " not in shown and ".py" not in shown and "Traceback" not in shown
    assert max(len(line) for line in errors[0].traceback) <= 100, "long lines are cut off in feedback HTML"


def _run_allowing_errors(source, folder):
    from nbclient import NotebookClient

    notebook = nbformat.read(source, as_version=4)
    client = NotebookClient(notebook, kernel_name="python3", allow_errors=True, timeout=120,
                            shutdown_kernel="immediate", resources={"metadata": {"path": str(folder)}})
    client.kernel_manager_class.transport = "ipc"
    client.km = client.create_kernel_manager()
    client.km.transport, client.km.ip = "ipc", ipc_kernel_prefix()
    return client.execute()


def test_an_untouched_answer_cell_says_so_instead_of_echoing_ellipsis(tmp_path):
    module = course.module("00")
    source = tmp_path / module.notebook_name
    source.write_bytes(release.release_notebook_path(module).read_bytes())
    executed = _run_allowing_errors(source, tmp_path)
    answer = next(c for c in executed.cells
                  if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "language_mix-answer")
    shown = "".join(o.get("data", {}).get("text/plain", "") for o in answer.outputs)
    assert "Ellipsis" not in shown and "not answered yet" in shown


@pytest.mark.parametrize("module", course.modules(), ids=lambda m: m.slug)
def test_cells_after_unanswered_exercises_fail_gently(module, tmp_path):
    """Running every cell of the untouched release (as if each were run by hand) never ends in a NameError or a
    traceback from the kit: a cell that needs an answer says which exercise to do first."""
    source = tmp_path / module.notebook_name
    source.write_bytes(release.release_notebook_path(module).read_bytes())
    executed = _run_allowing_errors(source, tmp_path)
    for index, cell in enumerate(executed.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                assert output.ename in ("NotAttempted", "IncorrectAnswer"), (
                    f"cell {index} raised {output.ename}: {output.evalue[:200]}")
