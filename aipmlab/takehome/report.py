"""Reports of a graded take-home: one HTML page per candidate, a CSV and JSON summary, and one score
sheet per reviewer. Every string that a candidate could have written goes through `html.escape`:
an answer is hostile input, and a report must never run it.
"""

from __future__ import annotations

import csv
import json
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aipmlab.takehome.grade import CandidateReport, ModuleReport, WrittenAnswer

SCORE_SHEET_COLUMNS = ("candidate_id", "exercise", "criterion", "score")
SUMMARY_COLUMNS = ("candidate_id", "name", "email", "modules_handed_in", "status", "points", "max_points",
                   "manual_max_points", "similarity_flags", "notes")
STATE_MARK = {"correct": "✓", "incorrect": "✗", "not attempted": "–", "ready for review": "✎"}
STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; width: 100%; margin: .5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: .35em .5em; vertical-align: top; text-align: left; }
th { background: #f3f3f3; }
.correct { color: #1a7f37; } .incorrect { color: #b42318; } .muted { color: #666; }
.answer { white-space: pre-wrap; background: #fafafa; border: 1px solid #ddd; padding: .6em; }
.written { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; margin-bottom: 2em; }
.flag { background: #fff4e5; border-left: 4px solid #f79009; padding: .5em; margin: .5em 0; }
input.score { width: 3em; }
"""


def _e(value: Any) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return escape(str(value), quote=True)


def _points(value: float) -> str:
    return f"{value:g}"


def _exercise_rows(module_report: ModuleReport) -> str:
    rows = []
    for result in module_report.result.exercises:
        mark = STATE_MARK.get(result.state, "?")
        points = (f"{_points(result.points)} / {result.max_points}" if result.max_points or not result.manual_points
                  else f"reviewers: up to {result.manual_points}")
        css = "correct" if result.state == "correct" else "incorrect" if result.state == "incorrect" else "muted"
        rows.append(f"<tr><td>{_e(result.number)}</td><td><code>{_e(result.key)}</code></td>"
                    f"<td class='{css}'>{_e(mark)} {_e(result.state)}</td>"
                    f"<td>{_e(points)}</td><td>{_e(result.message)}</td></tr>")
    return ("<table><tr><th>#</th><th>exercise</th><th>verdict</th><th>automatic points</th><th>message</th></tr>"
            + "".join(rows) + "</table>")


def _outcomes(module_report: ModuleReport) -> str:
    if not module_report.outcomes:
        return ""
    items = []
    for key, outcome in module_report.outcomes.items():
        if isinstance(outcome, str):
            items.append(f"<li><code>{_e(key)}</code>: {_e(outcome)}</li>")
        else:
            items.append(f"<li><code>{_e(key)}</code>: {_e(outcome.summary)} (value {_e(f'{outcome.value:.4g}')} "
                         f"{_e(outcome.unit)}; best {_e(f'{outcome.best_value:.4g}')}; regret "
                         f"{_e(f'{outcome.regret:.4g}')})</li>")
    return "<h3>Decisions deployed on this candidate's world</h3><ul>" + "".join(items) + "</ul>"


def _written(answer: WrittenAnswer, candidate_id: str) -> str:
    text = (f"<div class='answer'>{_e(answer.text)}</div>" if answer.text
            else f"<p class='muted'>No answer ({_e(answer.state)}).</p>")
    criteria = []
    for criterion in answer.rubric.criteria:
        levels = "".join(f"<li><b>{_e(level.points)}</b>: {_e(level.looks_like)}</li>" for level in criterion.levels)
        field = f"score-{candidate_id}-{answer.key}-{criterion.name}"
        criteria.append(f"<p><b>{_e(criterion.name)}</b> (up to {_e(criterion.max_points)}) "
                        f"<label>score <input class='score' name='{_e(field)}' value=''></label></p><ul>{levels}</ul>")
    return (f"<h3>Exercise {_e(answer.number)}: <code>{_e(answer.key)}</code></h3><div class='written'>"
            f"<div>{text}</div><div>{''.join(criteria)}</div></div>")


def _module_section(module_report: ModuleReport, candidate_id: str) -> str:
    module, result = module_report.module, module_report.result
    head = f"<h2>{_e(module.slug)}: {_e(module.title)}</h2>"
    if result is None:
        body = "<p class='muted'>Not handed in.</p>"
    else:
        status = f"<p>Status: <b>{_e(result.status)}</b>"
        status += f" ({_e(result.reason)})" if result.reason else ""
        status += f". Automatic points {_e(_points(result.points))} of {_e(module.autograded_points)}; graded in {result.seconds:.0f} s.</p>"
        body = status + _exercise_rows(module_report) + _outcomes(module_report)
    written = "".join(_written(answer, candidate_id) for answer in module_report.written)
    if written:
        written = ("<h3 class='muted'>Written answers: score each criterion at one of its levels, in your score "
                   "sheet (scores_REVIEWER.csv)</h3>" + written)
    return head + body + written


def _similarity(report: CandidateReport) -> str:
    if not report.matches:
        return "<h2>Similarity</h2><p>No answer cell is a near-copy of the worked solutions or of another candidate's.</p>"
    flags = []
    for match in report.matches:
        passages = "".join(f"<div class='answer'>{_e(passage)}</div>" for passage in match.passages)
        flags.append(f"<div class='flag'><b><code>{_e(match.exercise)}</code></b> shares {match.ratio:.0%} of its "
                     f"tokens, in order, with {_e(match.source)}. Shared passages:{passages}</div>")
    return ("<h2>Similarity</h2><p>Evidence for a reviewer to weigh, not a verdict.</p>" + "".join(flags))


def candidate_html(report: CandidateReport) -> str:
    """One candidate's report as a self-contained HTML page (no scripts, every candidate string escaped)."""
    candidate = report.candidate
    notes = "".join(f"<li>{_e(note)}</li>" for note in report.notes)
    header = (f"<h1>Take-home: {_e(candidate.name or candidate.candidate_id)}</h1>"
              f"<p>Candidate <code>{_e(candidate.candidate_id)}</code> · {_e(candidate.email)}</p>"
              f"<p><b>Automatic points: {_e(_points(report.points))} of {_e(report.max_points)}.</b> "
              f"Written answers: up to {_e(report.manual_max_points)} more points from reviewers.</p>"
              + (f"<ul>{notes}</ul>" if notes else ""))
    sections = "".join(_module_section(m, candidate.candidate_id) for m in report.modules)
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            f"<title>Take-home report: {_e(candidate.candidate_id)}</title><style>{STYLE}</style></head>"
            f"<body>{header}{sections}{_similarity(report)}</body></html>")


def _spreadsheet_safe(value: str) -> str:
    """A cell value a spreadsheet will not run as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def summary_rows(reports: list[CandidateReport]) -> list[dict[str, Any]]:
    """One summary row per candidate (automatic points; reviewers add the written ones)."""
    rows = []
    for report in reports:
        graded = [m for m in report.modules if m.result is not None]
        statuses = sorted({m.result.status for m in graded})
        rows.append({
            "candidate_id": report.candidate.candidate_id, "name": report.candidate.name,
            "email": report.candidate.email, "modules_handed_in": " ".join(m.module.slug for m in graded),
            "status": "/".join(statuses) or "not handed in", "points": report.points, "max_points": report.max_points,
            "manual_max_points": report.manual_max_points, "similarity_flags": len(report.matches),
            "notes": " | ".join(report.notes),
        })
    return rows


def summary_json(reports: list[CandidateReport]) -> list[dict[str, Any]]:
    """The summary with each exercise's verdict, for tools."""
    rows = summary_rows(reports)
    for row, report in zip(rows, reports):
        row["exercises"] = [
            {"module": m.module.slug, "key": r.key, "number": r.number, "state": r.state, "points": r.points,
             "max_points": r.max_points, "manual_points": r.manual_points, "message": r.message}
            for m in report.modules if m.result is not None for r in m.result.exercises]
        row["similarity"] = [{"exercise": s.exercise, "source": s.source, "ratio": round(s.ratio, 3)}
                             for s in report.matches]
    return rows


def score_sheet_rows(reports: list[CandidateReport]) -> list[dict[str, str]]:
    """Rows reviewers fill in: one per candidate, written answer handed in, and rubric criterion; scores empty."""
    return [{"candidate_id": report.candidate.candidate_id, "exercise": answer.key, "criterion": criterion.name,
             "score": ""}
            for report in reports for m in report.modules for answer in m.written if answer.state == "ready for review"
            for criterion in answer.rubric.criteria]


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _spreadsheet_safe(v) if isinstance(v, str) else v for k, v in row.items()})


def write_all(reports: list[CandidateReport], out: Path, reviewers: tuple[str, ...]) -> list[Path]:
    """Write every candidate's HTML report, summary.csv, summary.json and a score sheet per reviewer."""
    written = []
    for report in reports:
        path = out / f"{report.candidate.candidate_id}.html"
        path.write_text(candidate_html(report), encoding="utf-8")
        written.append(path)
    _write_csv(out / "summary.csv", SUMMARY_COLUMNS, summary_rows(reports))
    (out / "summary.json").write_text(json.dumps(summary_json(reports), indent=1) + "\n", encoding="utf-8")
    written += [out / "summary.csv", out / "summary.json"]
    sheet = score_sheet_rows(reports)
    for reviewer in reviewers:
        path = out / f"scores_{reviewer}.csv"
        if path.exists():
            print(f"kept {path.name}: it may already hold a reviewer's scores")
            continue
        _write_csv(path, SCORE_SHEET_COLUMNS, sheet)
        written.append(path)
    return written
