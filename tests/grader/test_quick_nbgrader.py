"""The shortcuts the fast cohort command takes through nbgrader change its speed, never its answers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import nbformat
import pytest
from nbgrader.nbgraderformat import MetadataValidator, common

from aipmlab.grader.quick_nbgrader import _CachedSchemaValidation, faster_nbgrader

GOOD = {"grade": True, "solution": False, "locked": True, "points": 2, "grade_id": "check-x", "schema_version": 3,
        "task": False}
BAD_METADATA = [dict(GOOD, points="two"), dict(GOOD, grade="yes"), dict(GOOD, surprise=1)]


def _error_of(validate, instance, schema) -> str | None:
    try:
        validate(instance, schema)
    except jsonschema.ValidationError as error:
        return f"{type(error).__name__}: {error.message} at {list(error.absolute_path)}"
    return None


@pytest.mark.parametrize("metadata", [GOOD, *BAD_METADATA])
def test_cached_validation_gives_jsonschemas_verdict_and_message(metadata):
    schema = MetadataValidator().schema
    assert _error_of(_CachedSchemaValidation.validate, metadata, schema) == _error_of(jsonschema.validate, metadata,
                                                                                      schema)
    assert _error_of(jsonschema.validate, GOOD, schema) is None and _error_of(jsonschema.validate, BAD_METADATA[0],
                                                                              schema)


def test_a_broken_schema_is_still_refused():
    with pytest.raises(jsonschema.SchemaError):
        _CachedSchemaValidation.validate({}, {"type": "no such type"})


def test_nbgrader_checks_cells_with_the_cache_inside_the_block_only(tmp_path, monkeypatch):
    from nbgrader.api import Gradebook

    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:{os.environ['PATH']}")  # nbgrader runs `alembic`
    original = common.jsonschema
    cell = nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": BAD_METADATA[0]})
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with faster_nbgrader():
        assert common.jsonschema is not original
        with pytest.raises(jsonschema.ValidationError):
            MetadataValidator().validate_cell(cell)
        with Gradebook(url) as first, Gradebook(url) as second:
            assert first.engine is second.engine  # one engine, so its compiled-statement cache lasts
    assert common.jsonschema is original
    with Gradebook(url) as first, Gradebook(url) as second:
        assert first.engine is not second.engine


def test_jsonschema_works_without_the_iri_grammars():
    """The locked jsonschema (pyproject caps it below 4.24) never builds the IRI grammars, in any process: importing
    nbformat stays cheap for JupyterLab, nbgrader and the grading engine alike, and validation still works."""
    program = ("import sys, jsonschema, nbformat\n"
               "jsonschema.validate({'a': 1}, {'type': 'object'})\n"
               "nbformat.validate(nbformat.v4.new_notebook())\n"
               "print('rfc3987_syntax' in sys.modules)")
    ran = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == "False"
