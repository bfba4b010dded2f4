"""Candidates, the hiring manager's secret, and the data seed each candidate is issued.

A candidate's seed is HMAC-SHA256(secret, candidate_id), reduced to a non-negative int: the first
four bytes of the digest read big-endian, with the top bit cleared, so a seed lies in [0, 2**31).
The same secret and id always give the same seed; without the secret, no one can work out a seed.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

SEED_BITS = 31  # fits every seed-taking API (numpy's legacy RandomState wants < 2**32)
CANDIDATE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")  # safe as a folder, a file name and in HTML
CANDIDATE_COLUMNS = ("candidate_id", "name", "email")


class TakehomeError(Exception):
    """An expected problem with the hiring manager's inputs; its message is one clear line."""


@dataclass(frozen=True)
class Candidate:
    """One row of candidates.csv."""

    candidate_id: str
    name: str
    email: str


def read_candidates(path: Path) -> list[Candidate]:
    """The candidates in `path` (columns candidate_id,name,email), validated: unique, safe ids."""
    if not path.is_file():
        raise TakehomeError(f"The candidates file {path} does not exist.")
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
            header = tuple(rows[0].keys()) if rows else ()
    except UnicodeDecodeError:
        raise TakehomeError(f"{path} is not UTF-8 text; save it as UTF-8 CSV.") from None
    if not rows:
        raise TakehomeError(f"{path} has no candidates; it needs a header {','.join(CANDIDATE_COLUMNS)} and one row each.")
    if header[:3] != CANDIDATE_COLUMNS:
        raise TakehomeError(f"{path} must start with the header {','.join(CANDIDATE_COLUMNS)}; it has {','.join(map(str, header))}.")
    candidates, seen = [], set()
    for line, row in enumerate(rows, start=2):
        candidate_id = (row["candidate_id"] or "").strip()
        if not CANDIDATE_ID.match(candidate_id):
            raise TakehomeError(f"{path}, line {line}: candidate_id {candidate_id!r} must be 1-64 letters, digits, "
                                f"'-' or '_', starting with a letter or digit.")
        if candidate_id.lower() in seen:
            raise TakehomeError(f"{path}, line {line}: candidate_id {candidate_id!r} appears twice (ids are compared "
                                f"ignoring case, because they name folders).")
        seen.add(candidate_id.lower())
        candidates.append(Candidate(candidate_id, (row["name"] or "").strip(), (row["email"] or "").strip()))
    return candidates


def read_or_create_secret(path: Path, create: bool = True) -> tuple[bytes, bool]:
    """The secret in `path`, creating it (secrets.token_hex, mode 0600) when absent and `create`; (secret, created)."""
    if path.exists():
        secret = path.read_text(encoding="utf-8").strip()
        if len(secret) < 32:
            raise TakehomeError(f"The secret in {path} is too short (under 32 characters); use the file the "
                                f"create command made.")
        return secret.encode("utf-8"), False
    if not create:
        raise TakehomeError(f"The secret file {path} does not exist. Grading needs the file `takehome create` used.")
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    secret = secrets.token_hex(32)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")
    return secret.encode("utf-8"), True


def candidate_seed(secret: bytes, candidate_id: str) -> int:
    """The seed issued to `candidate_id`: HMAC-SHA256(secret, id), first 4 bytes big-endian, top bit cleared."""
    digest = hmac.new(secret, candidate_id.encode("utf-8"), hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "big") & ((1 << SEED_BITS) - 1)


def issued_seeds(secret: bytes, candidates: list[Candidate]) -> dict[str, int]:
    """Each candidate's seed; refuses the (astronomically rare) case of two candidates sharing one."""
    seeds = {candidate.candidate_id: candidate_seed(secret, candidate.candidate_id) for candidate in candidates}
    if len(set(seeds.values())) < len(seeds):
        raise TakehomeError("Two candidates drew the same seed; create a new secret file and run create again.")
    return seeds
