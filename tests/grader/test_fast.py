"""The fast path (one pre-warmed parent, a forked sandboxed child per submission) against the engine.

Every hostile submission of the engine's tests scores what the engine's own test allows and nothing
of the grader's changes; the worked solutions, the releases and a few hostile cases give exactly the
engine's result; the parent holds no answer key; one child cannot see or touch another; notebooks
that need a real kernel, and machines that cannot fork into namespaces, go to the plain engine with
a note saying so.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import nbformat
import pytest

from aipmlab import course
from aipmlab.grader import Limits, Submission, engine, fast, grade_notebook
from tests.grader.hostile import M00, Case, cases, controls, raw, variant
from tests.grader.test_engine import canonical_seed, grader_files, hostile_course

LIMITS = Limits(cell_seconds=6, wall_seconds=90)  # as the engine's hostile tests
M02, M03 = course.module("02"), course.module("03")
# Compared field by field with the plain engine (each costs a kernel start there, so not every case by default;
# AIPMLAB_FAST_COMPARE_ALL=1 compares every hostile case and control; the neighbour cases answer with their own user
# and process ids, which differ by design, and the memory hog may end either way the engine's test allows, depending
# on whether filling 3 GiB finishes within the cell's time limit on a busy machine).
SAME_AS_ENGINE = ("controls/m00-solution", "controls/m01-solution", "controls/m02-solution", "controls/m03-solution")
WHAT_IT_HOLDS = """
import gc, sys, types
import aipmlab.answer_key as answer_key
held = sorted(name for name in sys.modules if 'answer_key_' in name or name.endswith('aipmlab.grader.judge'))
held += sorted({getattr(o, '__file__', '') or '' for o in gc.get_objects() if isinstance(o, types.ModuleType)
                and ('/grading/' in (getattr(o, '__file__', '') or '') or '/solutions/' in (getattr(o, '__file__', '') or ''))})
held += sorted({o.__code__.co_filename for o in gc.get_objects() if isinstance(o, types.FunctionType)
                and ('/grading/' in o.__code__.co_filename or 'answer_key/' in o.__code__.co_filename)})
language_mix = {'held': held, 'loaded keys': answer_key._load.cache_info().currsize,
                'key now': answer_key.load('m00_start_here') is None}
"""
NEIGHBOUR_WRITES = """
import os, time
open('/tmp/left-by-a-neighbour', 'w').write('x')
open(os.path.expanduser('~/left-by-a-neighbour'), 'w').write('x')
language_mix = {'pids': sorted(int(p) for p in os.listdir('/proc') if p.isdigit()), 'uid': os.getuid()}
time.sleep(1.5)
"""
NEIGHBOUR_LOOKS = """
import os, signal, time
time.sleep(0.5)
seen = {'tmp': sorted(os.listdir('/tmp')), 'home': sorted(os.listdir(os.path.expanduser('~'))),
        'sandbox': sorted(os.listdir('/sandbox')), 'pids': sorted(int(p) for p in os.listdir('/proc') if p.isdigit())}
killed = []
for pid in range(2, 400):
    try:
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)
    except OSError:
        pass
language_mix = dict(seen, killed=killed, uid=os.getuid())
"""
UNDER_TMP = "/tmp/aipmlab-fast-test-environment"  # stands for a virtual environment that lives under /tmp
FROM_UNDER_TMP = (f"import sys\nsys.path.insert(0, {UNDER_TMP!r})\nimport lives_under_tmp\n"
                  "language_mix = {'found': lives_under_tmp.FOUND}")
MAGICS = ("%matplotlib inline\nimport matplotlib.pyplot as plt\nfrom IPython.display import display\n"
          "fig, ax = plt.subplots()\nax.plot([1, 2, 3])\ndisplay(fig)\nplt.show()\n%time total = 1 + 1\n"
          "shares = !echo 0.5\nfig.savefig('figure.png')\nimport os\nlanguage_mix = {'English': float(shares[0]), "
          "'figure saved': os.path.exists('figure.png'), 'figures open': len(plt.get_fignums())}")


def extra_cases() -> list[Case]:
    """The worked solutions and releases of the modules the hostile cases leave out, and the fast path's own cases."""
    return [
        *controls(M02), *controls(M03),
        Case("fast/what-the-parent-holds", M00, variant(M00, answers={"language_mix": WHAT_IT_HOLDS}), at_most=0),
        Case("fast/neighbour-writes", M00, variant(M00, answers={"language_mix": NEIGHBOUR_WRITES}), at_most=0),
        Case("fast/neighbour-looks", M00, variant(M00, answers={"language_mix": NEIGHBOUR_LOOKS}), at_most=0),
        Case("fast/magics-display-inline", M00, variant(M00, answers={"language_mix": MAGICS}), at_most=0),
        Case("fast/environment-under-tmp", M00, variant(M00, answers={"language_mix": FROM_UNDER_TMP}), at_most=0),
    ]


pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fast_batch(tmp_path_factory):
    course_dir, _results_dir, all_cases, submissions, before = hostile_course(tmp_path_factory.mktemp("fast"),
                                                                              extra_cases())
    environment = Path(UNDER_TMP)
    environment.mkdir(exist_ok=True)
    (environment / "lives_under_tmp.py").write_text("FOUND = True\n")
    from aipmlab.grader import execute

    readonly = execute._readonly_paths
    execute._readonly_paths = lambda: readonly() + [UNDER_TMP]
    try:
        results = {result.submission_id: result for result in fast.grade_many(submissions, LIMITS, workers=2)}
    finally:
        execute._readonly_paths = readonly
        shutil.rmtree(environment, ignore_errors=True)
    return {"cases": {case.name: case for case in all_cases}, "results": results, "before": before,
            "parent": dict(fast.LAST_PARENT),
            "after": grader_files(course_dir), "submissions": {s.submission_id: s for s in submissions}}


def answer(result: engine.SubmissionResult) -> object:
    return result.exercises[0].answer


def test_every_submission_has_one_result(fast_batch):
    assert sorted(fast_batch["results"]) == sorted(fast_batch["cases"])


@pytest.mark.parametrize("name", [case.name for case in cases(Path("/course"), Path("/results")) + extra_cases()])
def test_each_scores_only_what_it_earned(fast_batch, name):
    case, result = fast_batch["cases"][name], fast_batch["results"][name]
    summary = f"{result.status} ({result.reason}): " + ", ".join(f"{e.key} {e.state} {e.points}" for e in result.exercises)
    assert case.at_least <= result.points <= case.at_most, summary
    assert result.status in ((case.status,) if isinstance(case.status, str) else case.status), summary
    assert result.points == sum(e.points for e in result.exercises)
    if result.status != "graded":
        assert result.reason
    if case.blocked:
        for what, outcome in answer(result).items():
            assert not str(outcome).startswith("READ"), f"{name} read {what}"
    forked = not name.startswith("malformed/")  # nothing to run: the engine words those results
    assert (result.isolation == fast.ISOLATION) is forked, result.isolation


@pytest.mark.parametrize("name", [case.name for case in cases(Path("/course"), Path("/results")) + extra_cases()
                                  if not case.name.startswith(("fast/neighbour", "fast/environment"))]
                         if os.environ.get("AIPMLAB_FAST_COMPARE_ALL") == "1" else SAME_AS_ENGINE)
def test_the_same_result_as_the_engine(fast_batch, name):
    plain = grade_notebook(fast_batch["submissions"][name], LIMITS)
    fast_result = fast_batch["results"][name]
    assert (fast_result.status, fast_result.reason, fast_result.points) == (plain.status, plain.reason, plain.points)
    assert fast_result.exercises == plain.exercises


def test_no_grader_file_changed(fast_batch):
    assert fast_batch["before"] == fast_batch["after"]


def test_the_parent_forks_with_a_single_thread(fast_batch):
    assert fast_batch["parent"]["ready"] and fast_batch["parent"]["threads"] == 1


def test_the_parent_never_held_the_answer_key(fast_batch):
    assert answer(fast_batch["results"]["fast/what-the-parent-holds"]) == {"held": [], "loaded keys": 0, "key now": True}


def test_a_child_sees_and_touches_nothing_of_another(fast_batch):
    writer, looker = (answer(fast_batch["results"][f"fast/neighbour-{name}"]) for name in ("writes", "looks"))
    from aipmlab.grader import execute

    # the private /tmp holds only what the sandbox binds there again: an environment or kit living under /tmp
    bound_again = {Path(UNDER_TMP).name} | {Path(path).relative_to("/tmp").parts[0] for path in
                                            execute._readonly_paths() if path.startswith("/tmp/")}
    assert "left-by-a-neighbour" not in looker["tmp"] and set(looker["tmp"]) <= bound_again, \
        "a private /tmp: nothing a neighbour wrote"
    assert looker["home"] == [] and looker["sandbox"] == ["home", "submission.ipynb"]
    assert looker["pids"] == [1] and writer["pids"] == [1], "each child is alone in its PID namespace"
    assert looker["killed"] == [] and writer["uid"] != looker["uid"]
    assert fast_batch["results"]["fast/neighbour-writes"].status == "graded", "the neighbour's kill did not reach it"


def test_an_environment_under_tmp_stays_visible_beside_the_private_tmp(fast_batch):
    assert answer(fast_batch["results"]["fast/environment-under-tmp"]) == {"found": True}


def test_magics_display_and_inline_figures_behave_as_in_jupyterlab(fast_batch):
    result = fast_batch["results"]["fast/magics-display-inline"]
    assert result.status == "graded" and result.exercises[0].state == "incorrect"
    assert answer(result) == {"English": 0.5, "figure saved": True, "figures open": 0}


def test_a_notebook_that_needs_a_kernel_goes_to_the_engine_with_a_note(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("get_ipython().kernel.do_shutdown(False)")])
    assert "get_ipython().kernel" in fast.kernel_only_feature(notebook)
    assert fast.kernel_only_feature(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("%matplotlib inline")])) is None
    path = tmp_path / "kernel.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import ipywidgets\nlanguage_mix = ...")]), path)
    calls = []

    def plain(submission, limits, allow_unisolated, note):
        calls.append(note)
        return engine.failed(submission, "00-start-here", "engine", "", "plain", "", 0.0)
    original = fast._plain
    fast._plain = plain
    try:
        [result] = fast.grade_many([Submission("k/00", path, "00", canonical_seed(M00))], LIMITS)
    finally:
        fast._plain = original
    assert result.isolation == "plain" and "ipywidgets" in calls[0] and "Jupyter kernel" in calls[0]


def test_without_namespaces_everything_goes_to_the_engine_with_a_note(monkeypatch, tmp_path):
    path = tmp_path / "broken.ipynb"
    raw(M00, "{ not a notebook")(tmp_path)
    (tmp_path / M00.notebook_name).rename(path)
    monkeypatch.setattr(fast, "fork_available", lambda: False)
    [result] = fast.grade_many([Submission("b/00", path, "00", canonical_seed(M00))], LIMITS)
    assert result.status == "failed" and "plain engine" in result.note and "namespaces" in result.isolation
    assert json.loads(json.dumps(result.to_json()))["note"] == result.note


def test_a_kept_parent_serves_batch_after_batch_and_is_replaced_only_when_it_must_be(monkeypatch):
    from dataclasses import replace

    opened, closed = [], []

    class Running:  # stands in for a parent process: alive until `code` is set
        code = None

        def poll(self):
            return self.code

    def open_parent(jobs, keys, limits):
        opened.append(fast._Parent(Running(), Path("/nowhere"), Path("/nowhere"), frozenset(keys), limits))
        return opened[-1]

    monkeypatch.setattr(fast, "_open_parent", open_parent)
    monkeypatch.setattr(fast, "_close_parent", closed.append)
    kept = fast.KeptParent()

    def batch(modules: str, limits: Limits = LIMITS, stops_half_way: bool = False):
        with fast._parent_for([], {module: None for module in modules.split()}, limits, kept) as parent:
            if stops_half_way:
                raise RuntimeError("stopped")
        return parent

    first = batch("00")
    assert batch("00") is first and closed == [], "the next batch of the same module and limits reuses it"
    other_limits = batch("00", replace(LIMITS, cell_seconds=7))
    assert other_limits is not first and closed == [first]
    other_module = batch("01", other_limits.limits)
    assert other_module is not other_limits and closed[-1] is other_limits
    other_module.process.code = -9  # it died (its thread ended, say)
    restarted = batch("01", other_limits.limits)
    assert restarted is not other_module
    with pytest.raises(RuntimeError):
        batch("01", other_limits.limits, stops_half_way=True)
    assert closed[-1] is restarted and kept._parent is None, "jobs may still run in it: not used again"
    with fast._parent_for([], {"00": None}, LIMITS, kept) as held:  # a batch at the same time gets its own
        with fast._parent_for([], {"00": None}, LIMITS, kept) as own:
            assert own is not held
        assert closed[-1] is own
    kept.close()
    assert closed[-1] is held and len(opened) == 6
