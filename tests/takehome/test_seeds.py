"""Candidates files, the secret, and the seed issued to each candidate."""

from __future__ import annotations

import stat

import pytest

from aipmlab.takehome.seeds import (SEED_BITS, TakehomeError, candidate_seed, read_candidates, read_or_create_secret)


def test_seed_is_reproducible_per_secret_and_candidate():
    assert candidate_seed(b"s" * 40, "ada") == candidate_seed(b"s" * 40, "ada")
    assert candidate_seed(b"s" * 40, "ada") != candidate_seed(b"s" * 40, "bob")
    assert candidate_seed(b"s" * 40, "ada") != candidate_seed(b"t" * 40, "ada")
    seeds = [candidate_seed(b"s" * 40, f"c{i}") for i in range(500)]
    assert all(0 <= seed < 2 ** SEED_BITS for seed in seeds) and len(set(seeds)) == 500


def test_seed_is_the_documented_hmac_reduction():
    import hashlib
    import hmac

    digest = hmac.new(b"k" * 40, b"ada", hashlib.sha256).digest()
    assert candidate_seed(b"k" * 40, "ada") == int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def test_secret_is_created_private_and_then_reused(tmp_path):
    path = tmp_path / "secret.txt"
    secret, created = read_or_create_secret(path)
    assert created and stat.S_IMODE(path.stat().st_mode) == 0o600 and len(secret) == 64
    assert read_or_create_secret(path) == (secret, False)
    with pytest.raises(TakehomeError, match="does not exist"):
        read_or_create_secret(tmp_path / "missing.txt", create=False)


@pytest.mark.parametrize("body, message", [
    ("candidate_id,name,email\nada,A,a@x\nADA,B,b@x\n", "appears twice"),
    ("candidate_id,name,email\n../etc,A,a@x\n", "must be 1-64 letters"),
    ("candidate_id,name,email\n,A,a@x\n", "must be 1-64 letters"),
    ("id,name,email\nada,A,a@x\n", "must start with the header"),
    ("candidate_id,name,email\n", "has no candidates"),
])
def test_candidates_file_problems_are_one_clear_line(tmp_path, body, message):
    path = tmp_path / "candidates.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(TakehomeError, match=message) as problem:
        read_candidates(path)
    assert "\n" not in str(problem.value)
