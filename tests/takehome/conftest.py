"""Fixtures of the take-home tests: a candidates file, a secret, and bundles for three candidates."""

from __future__ import annotations

from pathlib import Path

import pytest

from aipmlab import cli

CANDIDATES_CSV = """candidate_id,name,email
ada,Ada Lovelace,ada@example.com
bob,Bob <script>alert('name')</script>,bob@example.com
cy,Cy Young,cy@example.com
"""
MODULES = "00,01"


@pytest.fixture(scope="module")
def takehome(tmp_path_factory) -> dict[str, Path]:
    """Bundles for ada, bob and cy (modules 00 and 01), made by the README's create command."""
    home = tmp_path_factory.mktemp("takehome")
    (home / "candidates.csv").write_text(CANDIDATES_CSV, encoding="utf-8")
    assert cli.main(["takehome", "create", "--modules", MODULES, "--candidates", str(home / "candidates.csv"),
                     "--hours", "4", "--secret-file", str(home / "secret.txt"), "--out", str(home / "bundles")]) == 0
    return {"home": home, "candidates": home / "candidates.csv", "secret": home / "secret.txt",
            "bundles": home / "bundles"}
