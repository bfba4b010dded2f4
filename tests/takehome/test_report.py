"""Reports from hand-made results, and similarity: hostile text is escaped, copies are flagged with evidence."""

from __future__ import annotations

import csv
import json

from aipmlab import course
from aipmlab.grader import ExerciseResult, SubmissionResult
from aipmlab.takehome import report, similarity
from aipmlab.takehome.grade import CandidateReport, ModuleReport, written_answers
from aipmlab.takehome.seeds import Candidate

HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)>"


def module_report(answer_text: str, points: int) -> ModuleReport:
    module = course.module("01")
    exercises = [ExerciseResult(e.key, e.number, "correct" if i < points else "incorrect", e.points if i < points else 0,
                                e.points, e.written.manual_points if e.written else 0, f"message {HOSTILE}", None)
                 for i, e in enumerate(module.exercises) if e.written is None]
    written = next(e for e in module.exercises if e.written)
    exercises.append(ExerciseResult(written.key, written.number, "ready for review", 0, 0, 4, "ok", answer_text))
    result = SubmissionResult("x--01", module.slug, 1, "graded", "", exercises, sum(e.points for e in exercises),
                              module.autograded_points, 3.0, "", "test")
    return ModuleReport(module, result, {}, written_answers(module, result))


def test_report_escapes_every_candidate_string(tmp_path):
    candidate = Candidate("x", f"Name {HOSTILE}", f"{HOSTILE}@example.com")
    matches = [similarity.Match("x", "slice_quality", "y", 0.93, (HOSTILE,))]
    reports = [CandidateReport(candidate, [module_report(f"My answer {HOSTILE}", 2)], [f"note {HOSTILE}"], matches)]
    report.write_all(reports, tmp_path, ("a", "b"))
    page = (tmp_path / "x.html").read_text()
    assert "<script>" not in page and "<img" not in page and "onerror=alert(1)&gt;" in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "My answer" in page and "Where it fails, with evidence" in page and "93%" in page


def test_summary_and_score_sheets(tmp_path):
    reports = [CandidateReport(Candidate("x", "=HYPERLINK(1)", "x@e"), [module_report("text", 3)], [], []),
               CandidateReport(Candidate("y", "Y", "y@e"), [ModuleReport(course.module("01"), None, {},
                               written_answers(course.module("01"), None))], ["Nothing was handed in."], [])]
    report.write_all(reports, tmp_path, ("ana", "ben"))
    with (tmp_path / "summary.csv").open() as handle:
        rows = {row["candidate_id"]: row for row in csv.DictReader(handle)}
    assert rows["x"]["name"] == "'=HYPERLINK(1)"  # a spreadsheet will not run it
    assert rows["x"]["points"] == "5" and rows["y"]["status"] == "not handed in"
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [e["state"] for e in summary[0]["exercises"]][:3] == ["correct"] * 3
    with (tmp_path / "scores_ana.csv").open() as handle:
        sheet = list(csv.DictReader(handle))
    assert {row["candidate_id"] for row in sheet} == {"x"} and all(row["score"] == "" for row in sheet)
    assert [row["criterion"] for row in sheet] == [c.name for c in written_answers(course.module("01"), None)[0].rubric.criteria]
    (tmp_path / "scores_ana.csv").write_text("filled in\n")
    report.write_all(reports, tmp_path, ("ana",))
    assert (tmp_path / "scores_ana.csv").read_text() == "filled in\n"  # a rerun never erases a reviewer's scores


def test_similarity_flags_copies_and_leaves_honest_work_alone():
    module = course.module("01")
    solution = similarity.worked_solutions(module)["trigger_thresholds"]
    reworded = solution.replace("lowest_threshold", "first_ok").replace("group", "g")
    honest = ("rows = []\nfor name, part in messages.groupby('slice'):\n    best = None\n"
              "    for cut in THRESHOLD_GRID:\n        kept = part[part.confidence >= cut]\n"
              "        if len(kept) >= MIN_SHOWN and kept.good.mean() >= QUALITY_FLOOR:\n"
              "            best = (cut, len(kept) / len(part), kept.good.mean()); break\n"
              "    rows.append((name, *(best or (float('nan'), 0.0, float('nan')))))\n"
              "trigger_thresholds = pd.DataFrame(rows, columns=['slice', 'threshold', 'coverage', 'shown_good_rate'])")
    cells = {"copier": {"trigger_thresholds": solution}, "rewording": {"trigger_thresholds": reworded},
             "honest": {"trigger_thresholds": honest}, "short": {"language_mix": "x = 1"}}
    matches = similarity.find_copies(cells, module)
    pairs = {(m.candidate_id, m.source) for m in matches}
    assert ("copier", similarity.PUBLIC_SOLUTION) in pairs and ("rewording", similarity.PUBLIC_SOLUTION) in pairs
    assert ("copier", "rewording") in pairs and ("rewording", "copier") in pairs
    assert not [m for m in matches if "honest" in (m.candidate_id, m.source) or m.candidate_id == "short"]
    evidence = next(m for m in matches if m.candidate_id == "copier" and m.source == similarity.PUBLIC_SOLUTION)
    assert evidence.ratio == 1.0 and evidence.passages[0] in solution  # quoted as written


def test_decisions_are_deployed_on_the_issued_seed_and_shown(tmp_path):
    from types import SimpleNamespace

    from aipmlab.exercises.core import Outcome
    from aipmlab.takehome.grade import decision_outcomes

    seen = []

    def deploy(decision, seed):
        seen.append((decision, seed))
        if decision == "crash":
            raise ValueError("unreadable")
        return Outcome(f"threshold {decision}", 0.81, 0.84, "share of good suggestions shown", True,
                       f"Users would see 81% good suggestions {HOSTILE}.")

    fake = SimpleNamespace(exercise=lambda key: SimpleNamespace(key=key, deploy=None if key == "plain" else deploy))
    results = SimpleNamespace(exercises=[
        ExerciseResult("decide", 1, "correct", 1, 1, 0, "", 0.4),
        ExerciseResult("other", 2, "incorrect", 0, 1, 0, "", "crash"),
        ExerciseResult("skipped", 3, "not attempted", 0, 1, 0, "", {"__not_attempted__": True}),
        ExerciseResult("plain", 4, "correct", 1, 1, 0, "", 3)])
    outcomes = decision_outcomes(fake, results, 4242)
    assert seen == [(0.4, 4242), ("crash", 4242)]
    assert outcomes["other"] == "Could not deploy this decision (ValueError)." and set(outcomes) == {"decide", "other"}
    html = report._outcomes(ModuleReport(course.module("01"), None, outcomes, []))
    assert "regret 0.03" in html and "<script>" not in html and "Users would see 81%" in html
