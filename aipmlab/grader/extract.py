"""Answers out of the sandbox as untrusted JSON data: read the submission, emit answers, parse what comes back.

`emit` runs inside the learner's kernel, so anything it sends may be forged by the learner's code. That
is acceptable only because what comes back is treated as data: JSON is parsed (never unpickled or
evaluated), sizes and nesting are capped, and a forged line can only ever claim an answer for this
same submission, which the grader then judges like any other.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

ANSWERS_MIME = "application/x-aipmlab-answers+json"
MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 12
MAX_ITEMS = 200_000


class MalformedNotebook(ValueError):
    """The handed-in file cannot be run as a notebook; the message is the reason a grader reads."""


def read_submission(path: Path) -> Any:
    """The handed-in notebook as an nbformat v4 node, or MalformedNotebook saying what is wrong with it."""
    import nbformat

    data = Path(path).read_bytes()[:MAX_NOTEBOOK_BYTES + 1]
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise MalformedNotebook(f"the notebook is larger than {MAX_NOTEBOOK_BYTES // 2**20} MiB.")
    try:
        text = data.decode("utf-8")
        raw = json.loads(text)
    except (UnicodeDecodeError, ValueError):
        raise MalformedNotebook("the file is not a notebook: it is not valid JSON.") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list) or raw.get("nbformat") != 4:
        raise MalformedNotebook("the file is not a Jupyter notebook in format 4 (no list of cells).")
    try:
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # nbformat raises several kinds for a broken structure
        first_line = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
        raise MalformedNotebook(f"the notebook's structure is not valid ({first_line}).") from None
    if not any(cell.cell_type == "code" and cell.source.strip() for cell in notebook.cells):
        raise MalformedNotebook("the notebook has no code cells to run.")
    return notebook


def emit(namespace: dict, keys: list[str], nonce: str) -> None:
    """Inside the kernel: publish the JSON form of each answer variable that exists (runs as a hidden snippet)."""
    from IPython.display import publish_display_data

    answers, unreadable = answers_of(namespace, keys)
    publish_display_data({ANSWERS_MIME: {"nonce": nonce, "answers": answers, "unreadable": unreadable}})


def answers_of(namespace: dict, keys: list[str]) -> tuple[dict[str, Any], list[str]]:
    """The JSON form of each answer variable in `namespace`, and the keys whose value is not plain data."""
    from aipmlab.serialize import to_json

    answers, unreadable = {}, []
    for key in keys:
        if key in namespace:
            try:
                answers[key] = json.loads(json.dumps(to_json(namespace[key]), allow_nan=False))
            except Exception:  # not plain data: the judge reports it as missing
                unreadable.append(key)
    return answers, unreadable


def snippet(keys: list[str], nonce: str) -> str:
    """The code the sandbox runs after each cell; it defines no name in the learner's namespace."""
    return f"__import__('aipmlab.grader.extract', fromlist=['emit']).emit(globals(), {keys!r}, {nonce!r})"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _within_limits(value: Any, depth: int = 0, budget: list[int] | None = None) -> bool:
    budget = [MAX_ITEMS] if budget is None else budget
    budget[0] -= 1
    if depth > MAX_DEPTH or budget[0] < 0:
        return False
    if isinstance(value, dict):
        return all(isinstance(k, str) and _within_limits(v, depth + 1, budget) for k, v in value.items())
    if isinstance(value, list):
        return all(_within_limits(v, depth + 1, budget) for v in value)
    return value is None or isinstance(value, (str, int, float, bool))


def parse_snapshots(lines: Iterable[bytes], keys: list[str], limit_bytes: int) -> tuple[dict[str, Any], list[dict]]:
    """The last good answer per key from the sandbox's answer lines, and the other (event) lines, within limits."""
    answers: dict[str, Any] = {}
    events: list[dict] = []
    used = 0
    for line in lines:
        used += len(line)
        if used > limit_bytes:
            events.append({"event": "overflow"})
            break
        try:
            record = json.loads(line.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError, RecursionError):
            continue
        if not isinstance(record, dict):
            continue
        if record.get("event") == "answers" and isinstance(record.get("answers"), dict):
            for key, value in record["answers"].items():
                if key in keys and _within_limits(value):
                    answers[key] = value
        elif isinstance(record.get("event"), str):
            events.append({k: v for k, v in record.items() if isinstance(v, (str, int, float, bool))})
    return answers, events
