"""Shared fixtures: the course map and the data seeds every notebook-level test runs on."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OTHER_SEEDS = (7, 31337)  # besides each dataset's canonical seed


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT
