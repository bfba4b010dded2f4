"""Unit tests of the exercise framework: states, messages, the notebook-facing Lab, and serialisation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from aipmlab import IncorrectAnswer, Lab, NotAttempted, course
from aipmlab.exercises import checks
from aipmlab.exercises.core import DataSource, Exercise, Incorrect, State, judge
from aipmlab.serialize import from_json, to_json


def toy_exercise(**overrides) -> Exercise:
    def structure(answer, data):
        checks.require_number(answer, "answer", 0, 10, hint=1)

    def compare(answer, expected):
        if answer != expected:
            raise Incorrect("The value is off.", 2)

    fields = dict(key="toy", number=1, title="Toy", points=2, expects="a number from 0 to 10",
                  hints=("first", "second"), check_structure=structure, compare=compare)
    fields.update(overrides)
    return Exercise(**fields)


@pytest.mark.parametrize(("answer", "state", "points"), [
    (..., State.NOT_ATTEMPTED, 0), ("7", State.INCORRECT, 0), (11, State.INCORRECT, 0),
    (3, State.INCORRECT, 0), (7, State.CORRECT, 2),
])
def test_judge_states(answer, state, points):
    verdict = judge(toy_exercise(), answer, DataSource(), reference=7, has_reference=True)
    assert (verdict.state, verdict.points, verdict.max_points) == (state, points, 2)


def test_an_answer_that_trips_a_check_gets_a_message_not_a_traceback():
    exercise = course.module("01").exercise("slice_quality")
    slices = sorted(DataSource().load("smart_reply_messages")["slice"].unique())
    duplicated_column = pd.DataFrame([[1, 0.5, 0.4, 0.6, 0.5]] * len(slices), index=pd.Index(slices, name="slice"),
                                     columns=["n", "good_rate", "ci_low", "ci_high", "good_rate"])
    verdict = judge(exercise, duplicated_column, DataSource())
    assert verdict.state is State.INCORRECT
    assert "could not read" in verdict.message and exercise.expects in verdict.message
    layered = pd.DataFrame({"n": [1]}, index=pd.MultiIndex.from_tuples([("a", "b")], names=["slice", "x"]))
    assert "several levels" in judge(exercise, layered, DataSource()).message


def test_judge_without_a_reference_checks_structure_only():
    assert judge(toy_exercise(), 3, DataSource()).state is State.UNVERIFIED
    assert judge(toy_exercise(), 11, DataSource()).state is State.INCORRECT


def test_messages_name_the_hint_and_never_the_expected_value():
    verdict = judge(toy_exercise(), 3, DataSource(), reference=7, has_reference=True)
    assert verdict.hint == 2 and "7" not in verdict.message


@pytest.mark.parametrize(("value", "fragment"), [
    (True, "True/False"), ("0.5", "text"), (float("nan"), "finite"), (55, "percentage"), (-0.1, "between"),
])
def test_require_probability_explains_what_is_wrong(value, fragment):
    with pytest.raises(Incorrect, match=fragment):
        checks.require_probability(value, "rate")


def test_require_frame_catches_the_usual_shape_mistakes():
    frame = pd.DataFrame({"slice": ["a", "b"], "n": [1, 2]}).set_index("slice")
    checks.require_frame(frame, "t", "slice", ["a", "b"], ["n"])
    with pytest.raises(Incorrect, match="Series"):
        checks.require_frame(frame["n"], "t", "slice", ["a", "b"], ["n"])
    with pytest.raises(Incorrect, match="set_index"):
        checks.require_frame(frame.reset_index(), "t", "slice", ["a", "b"], ["n"])
    with pytest.raises(Incorrect, match="no row for 'c'"):
        checks.require_frame(frame, "t", "slice", ["a", "b", "c"], ["n"])
    with pytest.raises(Incorrect, match="more than one row"):
        checks.require_frame(pd.concat([frame, frame]), "t", "slice", ["a", "b"], ["n"])
    with pytest.raises(Incorrect, match="missing the column"):
        checks.require_frame(frame, "t", "slice", ["a", "b"], ["n", "rate"])


def test_require_mapping_and_labels():
    with pytest.raises(Incorrect, match="missing the key"):
        checks.require_mapping({"a": 1}, ["a", "b"], "d")
    with pytest.raises(Incorrect, match="should not"):
        checks.require_mapping({"a": 1, "b": 2, "z": 3}, ["a", "b"], "d")
    with pytest.raises(Incorrect, match="list of labels"):
        checks.require_labels("a", ["a"], "l")
    with pytest.raises(Incorrect, match="not one of the labels"):
        checks.require_labels(["x"], ["a"], "l")


def test_compare_columns_treats_missing_values_as_equal_only_to_missing():
    expected = pd.DataFrame({"t": [0.5, np.nan]}, index=pd.Index(["a", "b"], name="s"))
    checks.compare_columns(expected.copy(), expected, "t", {})
    with pytest.raises(Incorrect, match="off for 1 of 2"):
        checks.compare_columns(expected.fillna(0.1), expected, "t", {"t": 1})


def test_check_written_wants_length_a_figure_and_the_subject():
    text = "The model fails on code-switched messages, 39% good. " * 8
    assert checks.check_written(text, "s", 40, [("code-switch",)]) == text
    with pytest.raises(Incorrect, match="words"):
        checks.check_written("short 1", "s", 40, [])
    with pytest.raises(Incorrect, match="figure"):
        checks.check_written("word " * 50, "s", 40, [])
    with pytest.raises(Incorrect, match="should name"):
        checks.check_written("word 1 " * 50, "s", 40, [("emoji",)])
    with pytest.raises(Incorrect, match="string"):
        checks.check_written(["a list"], "s", 40, [])


def test_lab_check_prints_on_success_and_raises_otherwise(capsys):
    lab = Lab("00-start-here")
    answer = lab.load("smart_reply_messages")["language"].value_counts(normalize=True).to_dict()
    lab.check("language_mix", answer)
    assert "✓ Exercise 1 (language_mix): correct, 1/1 points" in capsys.readouterr().out
    with pytest.raises(NotAttempted, match="placeholder"):
        lab.check("language_mix", ...)
    with pytest.raises(IncorrectAnswer, match=r"lab.hint\('language_mix', 1\)"):
        lab.check("language_mix", {"English": 1.0})


def test_a_learner_changing_their_data_cannot_change_the_check():
    lab = Lab("00-start-here")
    mine = lab.load("smart_reply_messages")
    mine["language"] = "English"
    with pytest.raises(IncorrectAnswer):
        lab.check("language_mix", {"English": 1.0, "Spanish": 0.0, "Hindi": 0.0, "Portuguese": 0.0, "French": 0.0})


def test_hints_solutions_and_rubrics(capsys):
    lab = Lab("01")
    lab.hint("slice_quality")
    assert "Hint 1 of 2" in capsys.readouterr().out
    lab.hint("slice_quality", 9)
    assert "hints 1 to 2" in capsys.readouterr().out
    lab.solution("slice_quality")
    assert "proportion_confint" in capsys.readouterr().out
    lab.rubric("boundary_statement")
    assert "0:" in capsys.readouterr().out
    with pytest.raises(KeyError, match="overall_quality"):
        lab.hint("no_such_exercise")


def test_lab_without_answer_key_or_solutions(monkeypatch, tmp_path, capsys):
    """A take-home bundle: data only. Checks confirm shape; solutions and rubrics are withheld."""
    import shutil

    from aipmlab import answer_key, paths

    shutil.copytree(paths.datasets_dir(), tmp_path / "datasets")
    monkeypatch.setenv("AIPMLAB_HOME", str(tmp_path))
    answer_key._load.cache_clear()
    lab = Lab("00")
    assert not lab.has_answer_key
    lab.check("language_mix", {"English": 0.2, "Spanish": 0.2, "Hindi": 0.2, "Portuguese": 0.2, "French": 0.2})
    assert "◐" in capsys.readouterr().out
    lab.solution("language_mix")
    assert "no worked solutions" in capsys.readouterr().out


def test_unknown_module_and_table_messages():
    with pytest.raises(KeyError, match="00-start-here"):
        course.module("99")
    with pytest.raises(KeyError, match="uses the tables"):
        Lab("00").load("smart_reply_invariance")


def test_serialisation_round_trip_keeps_frames_and_the_stub():
    frame = pd.DataFrame({"x": [1.5, np.nan]}, index=pd.Index(["a", "b"], name="k"))
    restored = from_json(to_json({"f": frame, "n": np.int64(3), "s": ["a"], "stub": ...}))
    pd.testing.assert_frame_equal(restored["f"], frame)
    assert restored["n"] == 3 and restored["s"] == ["a"] and restored["stub"] is Ellipsis
    assert math.isnan(from_json(to_json(float("nan"))) or math.nan)
    with pytest.raises(TypeError, match="plain data"):
        to_json(lambda: 1)


def test_a_failed_check_renders_its_message_without_the_kits_code():
    error = IncorrectAnswer("Exercise 1 (toy): not yet. The value is off.")
    rendered = "\n".join(error._render_traceback_())
    assert "The value is off." in rendered
    assert "aipmlab" not in rendered and ".py" not in rendered and "Traceback" not in rendered


def test_deploy_refuses_an_exercise_that_is_not_a_decision(capsys):
    lab = Lab("00")
    assert lab.deploy("language_mix", {"English": 1.0}) is None
    assert "not a decision" in capsys.readouterr().out


def test_an_outcome_reports_regret_in_the_right_direction():
    from aipmlab.exercises.core import Outcome

    higher = Outcome("t=0.5", value=0.78, best_value=0.81, unit="shown quality", higher_is_better=True, summary="")
    lower = Outcome("t=0.5", value=12.0, best_value=10.0, unit="cost", higher_is_better=False, summary="")
    assert math.isclose(higher.regret, 0.03) and lower.regret == 2.0


def test_the_first_lab_parks_startup_objects_until_exit_and_only_once():
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        import gc
        from aipmlab import Lab

        class Loud:
            def __del__(self):
                print("finalized at exit", flush=True)

        gc.disable()                      # no automatic collection between here and the Lab
        cycle = Loud(); cycle.me = cycle; del cycle
        Lab("00")
        parked = gc.get_freeze_count()
        gc.enable(); gc.collect()         # a frozen cycle is out of reach of every collection in the session
        print("parked", parked > 10_000, "still parked", gc.get_freeze_count() == parked, flush=True)
        made_since = [[] for _ in range(1000)]
        Lab("01")
        print("second lab parks nothing", gc.get_freeze_count() == parked, flush=True)
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "parked True still parked True", "second lab parks nothing True", "finalized at exit"]
