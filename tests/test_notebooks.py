"""Every solution notebook runs end to end with papermill, on the canonical data and other seeds, and passes every check."""

from __future__ import annotations

import papermill
import pytest
from traitlets.config import Config

from aipmlab import course, release
from tests.conftest import OTHER_SEEDS, ipc_kernel_prefix

CASES = [(module, seed) for module in course.modules() for seed in (None, *OTHER_SEEDS)]


@pytest.mark.parametrize(("module", "seed"), CASES, ids=[f"{m.slug}-seed-{s or 'canonical'}" for m, s in CASES])
def test_solution_notebook_runs_and_passes_every_check(module, seed, tmp_path):
    source = release.source_notebook_path(module)
    executed = papermill.execute_notebook(
        str(source), str(tmp_path / module.notebook_name), parameters={} if seed is None else {"seed": seed},
        cwd=str(source.parent), kernel_name="python3", progress_bar=False, request_save_on_cell_execute=False,
        shutdown_kernel="immediate",  # the outputs are in hand: no need to wait ~0.5 s for a polite exit
        config=Config({"KernelManager": {"transport": "ipc", "ip": ipc_kernel_prefix()}}),
    )
    outputs = [output for cell in executed.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]
    stdout = "".join(o.get("text", "") for o in outputs if o.get("name") == "stdout")
    for exercise in module.exercises:
        passed = "ready for review" if exercise.written else "correct"
        mark = "✎" if exercise.written else "✓"
        assert f"{mark} Exercise {exercise.number} ({exercise.key}): {passed}" in stdout, f"{exercise.key} did not pass"
    shown = stdout + "".join(o.get("data", {}).get("text/plain", "") for o in outputs)
    assert "np.float64(" not in shown and "np.int64(" not in shown, "print plain numbers, not numpy reprs"
    check_cells = [c for c in executed.cells if c.get("metadata", {}).get("aipmlab", {}).get("generated") == "check"]
    for cell in check_cells:
        assert not [o for o in cell.outputs if o.get("name") == "stderr" or o.output_type == "error"], (
            "a check cell wrote to stderr or raised: nbgrader would score it zero")


def test_every_module_has_a_parameters_cell_with_the_seed():
    for module in course.modules():
        notebook = release.notebook_json(release.source_notebook_path(module))
        tagged = [c for c in notebook["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1 and "seed" in "".join(tagged[0]["source"]), module.slug
