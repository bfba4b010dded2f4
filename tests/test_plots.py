"""The kit's plots are rendered once in a notebook: pyplot's after-cell redraw skips them, the inline display does not."""

from __future__ import annotations

import json

import matplotlib
import matplotlib.pyplot as plt
import nbformat
import pandas as pd
from nbclient import NotebookClient
from traitlets.config import Config

from aipmlab import plots, plots_m02, plots_m03, plots_m04, plots_m05, plots_m06, plots_m07
from tests.conftest import ipc_kernel_prefix

INLINE = "module://matplotlib_inline.backend_inline"
NOISE_PSI = pd.DataFrame({"bins": [5, 5, 10, 10], "rows": [100, 200, 100, 200], "psi": [0.05, 0.03, 0.09, 0.05]})


def test_a_finished_kit_figure_is_up_to_date_under_the_inline_backend_only(monkeypatch):
    monkeypatch.setattr(matplotlib, "get_backend", lambda: INLINE)
    inline_figure = plots_m05.psi_noise(NOISE_PSI).get_figure(root=True)
    monkeypatch.setattr(matplotlib, "get_backend", lambda: "agg")
    agg_figure = plots_m05.psi_noise(NOISE_PSI).get_figure(root=True)
    try:
        assert inline_figure.stale is False
        assert agg_figure.stale is True, "outside a notebook the figure is left as matplotlib marks it"
    finally:
        plt.close("all")


def test_every_plot_that_draws_is_rendered_once():
    for module in (plots, plots_m02, plots_m03, plots_m04, plots_m05, plots_m06, plots_m07):
        for name, function in vars(module).items():
            returns = str(getattr(function, "__annotations__", {}).get("return", ""))
            if getattr(function, "__module__", None) == module.__name__ and ("Axes" in returns or "ndarray" in returns):
                assert hasattr(function, "__wrapped__"), f"{module.__name__}.{name} draws but is not @rendered_once"


def test_a_plot_still_waiting_for_its_answer_draws_nothing(capsys):
    assert plots_m05.drift_heatmap(..., ...) is None
    assert "once exercise `drift` is done" in capsys.readouterr().out
    assert plt.get_fignums() == []


COUNT_DRAWS = """
import collections, traceback
import matplotlib.figure
draws = collections.Counter()
_draw = matplotlib.figure.Figure.draw
def counted_draw(self, renderer):
    frames = [frame.name for frame in traceback.extract_stack()]
    draws[getattr(self, "made_by", "?"), "shown" if "print_figure" in frames else "unseen"] += 1
    return _draw(self, renderer)
matplotlib.figure.Figure.draw = counted_draw
"""
KIT_FIGURE = """
import pandas as pd
from aipmlab import plots_m05
plots_m05.psi_noise(pd.DataFrame({noise})).get_figure(root=True).made_by = "kit"
"""
OWN_FIGURE = """
import matplotlib.pyplot as plt
plt.subplots()[0].made_by = "learner"
plt.plot([1, 2, 3], [2, 1, 3]);
"""


def test_in_a_kernel_a_kit_figure_is_drawn_only_to_be_shown_while_a_learners_own_is_also_redrawn_unseen():
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in (
        COUNT_DRAWS, KIT_FIGURE.format(noise=NOISE_PSI.to_dict(orient="list")), OWN_FIGURE,
        "import json; print(json.dumps([[*key, count] for key, count in draws.items()]))")]
    NotebookClient(notebook, kernel_name="python3", timeout=120, shutdown_kernel="immediate",
                   config=Config({"KernelManager": {"transport": "ipc", "ip": ipc_kernel_prefix()}})).execute()
    shown_images = [o for cell in notebook.cells[1:3] for o in cell.outputs if "image/png" in o.get("data", {})]
    draws = {(made_by, how): count for made_by, how, count in json.loads(notebook.cells[-1].outputs[0]["text"])}
    assert len(shown_images) == 2, "each cell shows its figure"
    assert draws.get(("kit", "shown"), 0) >= 1 and draws.get(("learner", "shown"), 0) >= 1
    assert ("kit", "unseen") not in draws, f"the kit's figure was redrawn unseen after its cell: {draws}"
    assert draws.get(("learner", "unseen"), 0) >= 1, (
        f"pyplot's after-cell redraw no longer happens, so this test no longer proves anything: {draws}")
