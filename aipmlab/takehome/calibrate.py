"""`aipmlab takehome calibrate`: do reviewers agree, which answers to discuss, and the final scores.

Each reviewer fills in the score sheet `grade` wrote (candidate_id,exercise,criterion,score), scoring
every criterion at one of its rubric levels. Agreement is measured per criterion, the way module 03
teaches: Krippendorff's alpha (ordinal, from the `krippendorff` library) for any number of
reviewers, and, for exactly two, Cohen's kappa with quadratic weights (scikit-learn). The final
score of each criterion is the mean of the reviewers' scores; where reviewers are more than one
level apart, the row is flagged to be discussed before the score is used.
"""

from __future__ import annotations

import csv
import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import krippendorff
import numpy as np
from sklearn.metrics import cohen_kappa_score

from aipmlab import answer_key, course
from aipmlab.answer_key import Criterion
from aipmlab.takehome.report import SCORE_SHEET_COLUMNS
from aipmlab.takehome.seeds import TakehomeError

Unit = tuple[str, str, str]  # candidate_id, exercise key, criterion name


@dataclass(frozen=True)
class Agreement:
    """Agreement of the reviewers on one rubric criterion."""

    exercise: str
    criterion: str
    answers: int                 # answers scored by at least two reviewers
    alpha: float | None          # Krippendorff's alpha, ordinal; None when it is undefined (no variation)
    kappa: float | None          # quadratic-weighted Cohen's kappa; only for exactly two reviewers


def criteria_by_exercise() -> dict[str, dict[str, Criterion]]:
    """Every written exercise's rubric criteria, by exercise key then criterion name (from the answer key)."""
    found: dict[str, dict[str, Criterion]] = {}
    for module in course.modules():
        written = [exercise.key for exercise in module.exercises if exercise.written is not None]
        key_module = answer_key.load(module.code_name) if written else None
        if written and key_module is None:
            raise TakehomeError(f"The answer key of {module.slug} is missing; calibrate from the course repository.")
        for key in written:
            found[key] = {criterion.name: criterion for criterion in key_module.RUBRICS[key].criteria}
    return found


def read_scores(path: Path, rubrics: dict[str, dict[str, Criterion]]) -> dict[Unit, int]:
    """One reviewer's scores, validated against the rubric levels; every problem is one clear line."""
    if not path.is_file():
        raise TakehomeError(f"The score sheet {path} does not exist.")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ())[:4] != SCORE_SHEET_COLUMNS:
            raise TakehomeError(f"{path.name} must have the columns {','.join(SCORE_SHEET_COLUMNS)}, as `grade` wrote it.")
        scores: dict[Unit, int] = {}
        for line, row in enumerate(reader, start=2):
            where = f"{path.name}, line {line}"
            exercise, criterion_name = row["exercise"].strip(), row["criterion"].strip()
            if exercise not in rubrics:
                raise TakehomeError(f"{where}: {exercise!r} is not a written exercise of the course.")
            criterion = rubrics[exercise].get(criterion_name)
            if criterion is None:
                raise TakehomeError(f"{where}: {exercise} has no criterion {criterion_name!r}; its criteria are "
                                    f"{', '.join(rubrics[exercise])}.")
            allowed = sorted(level.points for level in criterion.levels)
            text = (row["score"] or "").strip()
            if not text:
                raise TakehomeError(f"{where}: the score is empty; score every row at one of the levels {allowed}.")
            try:
                score = int(text)
            except ValueError:
                raise TakehomeError(f"{where}: the score {text!r} is not a whole number; use one of {allowed}.") from None
            if score not in allowed:
                raise TakehomeError(f"{where}: {criterion_name!r} is scored at one of its levels {allowed}, not {score}.")
            unit = (row["candidate_id"].strip(), exercise, criterion_name)
            if unit in scores:
                raise TakehomeError(f"{where}: {unit[0]}'s {exercise} / {criterion_name} is scored twice.")
            scores[unit] = score
    return scores


def _level_index(criterion: Criterion, score: int) -> int:
    return sorted(level.points for level in criterion.levels).index(score)


def agreement(scores: dict[str, dict[Unit, int]], rubrics: dict[str, dict[str, Criterion]]) -> list[Agreement]:
    """Krippendorff's alpha (ordinal) and, for two reviewers, quadratic-weighted kappa, per criterion."""
    reviewers = sorted(scores)
    units = sorted({unit for by_unit in scores.values() for unit in by_unit})
    results = []
    for exercise, criterion_name in sorted({(unit[1], unit[2]) for unit in units}):
        mine = [unit for unit in units if unit[1:] == (exercise, criterion_name)]
        matrix = np.array([[scores[r].get(unit, np.nan) for unit in mine] for r in reviewers], dtype=float)
        shared = int((np.sum(~np.isnan(matrix), axis=0) >= 2).sum())
        levels = sorted(level.points for level in rubrics[exercise][criterion_name].levels)
        alpha = kappa = None
        observed = matrix[~np.isnan(matrix)]
        if shared and len(np.unique(observed)) > 1:
            alpha = float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="ordinal",
                                             value_domain=levels))
        if len(reviewers) == 2:
            both = ~np.isnan(matrix).any(axis=0)
            if both.sum() and len(np.unique(matrix[:, both])) > 1:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    value = cohen_kappa_score(matrix[0, both].astype(int), matrix[1, both].astype(int),
                                              labels=levels, weights="quadratic")
                kappa = None if math.isnan(value) else float(value)
        results.append(Agreement(exercise, criterion_name, shared, alpha, kappa))
    return results


def combine(scores: dict[str, dict[Unit, int]], rubrics: dict[str, dict[str, Criterion]]) -> list[dict]:
    """Per answer and criterion: each reviewer's score, the mean (the final score), and the spread in levels."""
    reviewers = sorted(scores)
    rows = []
    for unit in sorted({unit for by_unit in scores.values() for unit in by_unit}):
        criterion = rubrics[unit[1]][unit[2]]
        given = {r: scores[r][unit] for r in reviewers if unit in scores[r]}
        indices = [_level_index(criterion, score) for score in given.values()]
        spread = max(indices) - min(indices)
        rows.append({"candidate_id": unit[0], "exercise": unit[1], "criterion": unit[2],
                     **{f"score_{r}": given.get(r, "") for r in reviewers},
                     "final": round(sum(given.values()) / len(given), 3), "spread_levels": spread,
                     "discuss": spread > 1})
    return rows


def calibrate(score_files: list[Path], out: Path) -> dict:
    """Read the reviewers' sheets, write agreement.csv, discuss.csv, final_scores.csv and calibration.json to `out`."""
    if len(score_files) < 2:
        raise TakehomeError("Calibration needs the score sheets of at least two reviewers.")
    names = [path.stem.removeprefix("scores_") for path in score_files]
    if len(set(names)) < len(names):
        raise TakehomeError("Two score sheets have the same name; name each after its reviewer, e.g. scores_ana.csv.")
    rubrics = criteria_by_exercise()
    scores = {name: read_scores(path, rubrics) for name, path in zip(names, score_files)}
    agreements = agreement(scores, rubrics)
    rows = combine(scores, rubrics)
    out.mkdir(parents=True, exist_ok=True)
    _write(out / "agreement.csv", [a.__dict__ for a in agreements])
    discuss = sorted((row for row in rows if row["spread_levels"] > 0), key=lambda row: -row["spread_levels"])
    _write(out / "discuss.csv", discuss)
    _write(out / "final_scores.csv", rows)
    totals: dict[str, float] = {}
    for row in rows:
        totals[row["candidate_id"]] = totals.get(row["candidate_id"], 0.0) + row["final"]
    result = {"reviewers": names, "agreement": [a.__dict__ for a in agreements],
              "manual_points": {candidate: round(total, 3) for candidate, total in sorted(totals.items())},
              "to_discuss": [row for row in discuss if row["discuss"]]}
    (out / "calibration.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return result


def _write(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        if not rows:
            handle.write("")
            return
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
