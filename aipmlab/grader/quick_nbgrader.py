"""nbgrader's own steps, made cheap when one process records a whole class (the fast cohort command).

Recording a student through nbgrader's preprocessors costs far more than it needs to, for two reasons
that have nothing to do with the student:
- every `Gradebook(...)` creates a new SQLAlchemy engine, so each query is compiled again (the compiled
  cache lives on the engine), and nbgrader opens the gradebook several times per student;
- nbgrader checks each cell's metadata with `jsonschema.validate`, which first validates nbgrader's own
  fixed schema against the JSON Schema metaschema, for every cell of every notebook.
`faster_nbgrader()` removes both for the duration of a `with` block, in this process only; results,
gradebook rows and error messages are unchanged (tests/grader/test_quick_nbgrader.py).
"""

from __future__ import annotations

import contextlib
import json
from functools import lru_cache
from typing import Any, Iterator


class _CachedSchemaValidation:
    """Stands in for the `jsonschema` module inside nbgrader's metadata checks: the same `validate` (and the same
    errors), with each schema checked against its metaschema once instead of once per cell."""

    def __getattr__(self, name: str) -> Any:
        import jsonschema

        return getattr(jsonschema, name)

    @staticmethod
    def validate(instance: Any, schema: dict) -> None:
        import jsonschema

        error = jsonschema.exceptions.best_match(_validator(json.dumps(schema, sort_keys=True)).iter_errors(instance))
        if error is not None:
            raise error


@lru_cache(maxsize=16)
def _validator(schema_text: str) -> Any:
    """A validator for the schema (JSON text, so it can be a cache key), checked against its metaschema once."""
    import jsonschema

    schema = json.loads(schema_text)
    kind = jsonschema.validators.validator_for(schema)
    kind.check_schema(schema)  # as jsonschema.validate does, once per schema
    return kind(schema)


@contextlib.contextmanager
def faster_nbgrader() -> Iterator[None]:
    """Within the block: one SQLAlchemy engine per gradebook URL, and nbgrader's cell schema checked once."""
    import nbgrader.api
    from nbgrader.nbgraderformat import common

    engines: dict[tuple, Any] = {}
    create_engine = nbgrader.api.create_engine

    def shared_engine(url: Any, *args: Any, **kwargs: Any) -> Any:
        key = (str(url), args, tuple(sorted(kwargs.items())))
        if key not in engines:
            engines[key] = create_engine(url, *args, **kwargs)
        return engines[key]

    schema_module = common.jsonschema
    nbgrader.api.create_engine, common.jsonschema = shared_engine, _CachedSchemaValidation()
    try:
        yield
    finally:
        nbgrader.api.create_engine, common.jsonschema = create_engine, schema_module
        for engine in engines.values():
            engine.dispose()
