"""Reviewer calibration: agreement per criterion as the libraries compute it, answers to discuss, final scores."""

from __future__ import annotations

import csv

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from aipmlab import answer_key, cli, course
from aipmlab.takehome import calibrate
from aipmlab.takehome.seeds import TakehomeError

CANDIDATES = ("c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8")
RUBRIC = answer_key.load(course.module("01").code_name).RUBRICS["boundary_statement"]
# Two of boundary_statement's criteria: one scored 0-2, one whose lowest two levels are used.
EVIDENCE = next(c.name for c in RUBRIC.criteria if c.max_points == 2)
ACTION = next(c.name for c in RUBRIC.criteria if c.name != EVIDENCE)
# Reviewer B is harsher on evidence, and once two levels off.
SCORES_A = {EVIDENCE: (2, 1, 0, 2, 1, 2, 0, 1), ACTION: (1, 0, 0, 1, 1, 1, 0, 1)}
SCORES_B = {EVIDENCE: (2, 0, 0, 1, 1, 0, 0, 1), ACTION: (1, 0, 1, 1, 1, 1, 0, 0)}


def write_sheet(path, scores, exercise="boundary_statement"):
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["candidate_id", "exercise", "criterion", "score"])
        for criterion, values in scores.items():
            for candidate, value in zip(CANDIDATES, values):
                writer.writerow([candidate, exercise, criterion, value])
    return path


@pytest.fixture
def sheets(tmp_path):
    return [write_sheet(tmp_path / "scores_ana.csv", SCORES_A), write_sheet(tmp_path / "scores_ben.csv", SCORES_B)]


def test_agreement_is_what_the_libraries_compute_on_the_same_scores(sheets, tmp_path):
    result = calibrate.calibrate(sheets, tmp_path / "calibration")
    by_criterion = {row["criterion"]: row for row in result["agreement"]}
    for criterion in (EVIDENCE, ACTION):
        a, b = SCORES_A[criterion], SCORES_B[criterion]
        expected_alpha = krippendorff.alpha(reliability_data=np.array([a, b], dtype=float),
                                            level_of_measurement="ordinal")
        assert by_criterion[criterion]["alpha"] == pytest.approx(expected_alpha, abs=1e-12)
        assert by_criterion[criterion]["kappa"] == pytest.approx(cohen_kappa_score(a, b, weights="quadratic"), abs=1e-12)
        assert by_criterion[criterion]["answers"] == len(CANDIDATES)


def test_final_score_is_the_mean_and_far_apart_scores_are_flagged(sheets, tmp_path):
    result = calibrate.calibrate(sheets, tmp_path / "calibration")
    totals = {c: (SCORES_A[EVIDENCE][i] + SCORES_B[EVIDENCE][i] + SCORES_A[ACTION][i] + SCORES_B[ACTION][i]) / 2
              for i, c in enumerate(CANDIDATES)}
    assert result["manual_points"] == pytest.approx(totals)
    assert [(row["candidate_id"], row["criterion"]) for row in result["to_discuss"]] == [("c6", EVIDENCE)]
    with (tmp_path / "calibration" / "discuss.csv").open() as handle:
        discuss = list(csv.DictReader(handle))
    assert discuss[0]["candidate_id"] == "c6" and len(discuss) == 5  # every disagreement, largest first


def test_three_reviewers_give_alpha_without_kappa(sheets, tmp_path):
    third = write_sheet(tmp_path / "scores_cleo.csv", SCORES_A)
    result = calibrate.calibrate([*sheets, third], tmp_path / "calibration")
    assert all(row["kappa"] is None and row["alpha"] is not None for row in result["agreement"])


@pytest.mark.parametrize("row, message", [
    (["c1", "boundary_statement", EVIDENCE, "3"], r"levels \[0, 1, 2\], not 3"),
    (["c1", "boundary_statement", EVIDENCE, ""], "the score is empty"),
    (["c1", "boundary_statement", EVIDENCE, "two"], "not a whole number"),
    (["c1", "boundary_statement", "Style", "1"], "has no criterion 'Style'"),
    (["c1", "overall_quality", EVIDENCE, "1"], "not a written exercise"),
])
def test_scores_off_the_rubric_are_refused_with_the_line(tmp_path, sheets, row, message):
    bad = tmp_path / "scores_bad.csv"
    bad.write_text(sheets[0].read_text() + ",".join(f'"{cell}"' for cell in row) + "\n", encoding="utf-8")
    with pytest.raises(TakehomeError, match=message) as problem:
        calibrate.calibrate([sheets[1], bad], tmp_path / "calibration")
    assert "scores_bad.csv, line" in str(problem.value)


def test_the_command_prints_agreement_and_fails_cleanly(sheets, tmp_path, capsys):
    assert cli.main(["takehome", "calibrate", "--scores", *map(str, sheets), "--out", str(tmp_path / "c")]) == 0
    assert "alpha" in capsys.readouterr().out
    assert cli.main(["takehome", "calibrate", "--scores", str(sheets[0]), "--out", str(tmp_path / "c")]) == 2
    assert "at least two reviewers" in capsys.readouterr().err
