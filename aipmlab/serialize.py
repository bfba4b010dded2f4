"""Answers as JSON, so a grader can judge them in its own process, away from the learner's kernel."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

FRAME_TAG = "__dataframe__"
STUB_TAG = "__not_attempted__"


def to_json(answer: Any) -> Any:
    """Encode an answer (number, text, list, dict, DataFrame, or the `...` stub) as JSON-ready data."""
    if answer is Ellipsis:
        return {STUB_TAG: True}
    if isinstance(answer, pd.DataFrame):
        split = answer.to_dict(orient="split")
        return {FRAME_TAG: {"index_name": answer.index.name, "index": [to_json(v) for v in split["index"]],
                            "columns": [str(c) for c in split["columns"]],
                            "data": [[to_json(v) for v in row] for row in split["data"]]}}
    if isinstance(answer, dict):
        return {str(key): to_json(value) for key, value in answer.items()}
    if isinstance(answer, (list, tuple, set, pd.Index, np.ndarray, pd.Series)):
        return [to_json(value) for value in (answer.tolist() if hasattr(answer, "tolist") else answer)]
    if isinstance(answer, (bool, np.bool_)):
        return bool(answer)
    if isinstance(answer, (int, np.integer)):
        return int(answer)
    if isinstance(answer, (float, np.floating)):
        return None if math.isnan(float(answer)) else float(answer)
    if answer is None or isinstance(answer, str):
        return answer
    raise TypeError(f"An answer must be plain data (numbers, text, lists, dicts or a DataFrame), "
                    f"not {type(answer).__name__}.")


def from_json(data: Any) -> Any:
    """Decode what `to_json` produced (missing numbers come back as NaN inside tables)."""
    if isinstance(data, dict) and data.get(STUB_TAG) is True and len(data) == 1:
        return Ellipsis
    if isinstance(data, dict) and FRAME_TAG in data and len(data) == 1:
        frame = data[FRAME_TAG]
        rows = [[np.nan if value is None else value for value in row] for row in frame["data"]]
        index = pd.Index(frame["index"], name=frame["index_name"])
        return pd.DataFrame(rows, index=index, columns=frame["columns"])
    if isinstance(data, dict):
        return {key: from_json(value) for key, value in data.items()}
    if isinstance(data, list):
        return [from_json(value) for value in data]
    return data
