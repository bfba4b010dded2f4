"""Finding what candidates handed back: folders and zips, only module notebooks, never through a link."""

from __future__ import annotations

import os
import zipfile

import nbformat

from aipmlab import course
from aipmlab.takehome import returns
from aipmlab.takehome.seeds import Candidate
from tests.conftest import ROOT
from tests.takehome import handins

PEOPLE = [Candidate("ana", "Ana", "a@e"), Candidate("ben", "Ben", "b@e"), Candidate("cat", "Cat", "c@e"),
          Candidate("dan", "Dan", "d@e")]
SEEDS = {"ana": 11, "ben": 22, "cat": 33, "dan": 44}
M01 = course.module("01")


def release_copy(path, seed):
    notebook = nbformat.read(ROOT / "notebooks" / M01.slug / M01.notebook_name, as_version=4)
    nbformat.write(notebook, path)
    handins.set_seed(path, seed)


def test_folders_zips_links_duplicates_and_changed_seeds(tmp_path):
    returned, work = tmp_path / "returned", tmp_path / "work"
    (returned / "ana" / "deep" / "er").mkdir(parents=True)
    release_copy(returned / "ana" / "deep" / "er" / M01.notebook_name, SEEDS["ana"])
    (returned / "ana" / "aipmlab").mkdir()
    (returned / "ana" / "aipmlab" / "__init__.py").write_text("raise SystemExit")  # ignored, never copied
    (returned / "ben").mkdir()
    os.symlink(ROOT / "solutions" / M01.slug, returned / "ben" / "answers")  # the worked solutions, by a link
    os.symlink(ROOT / "solutions" / M01.slug / M01.notebook_name, returned / "ben" / M01.notebook_name)
    release_copy(tmp_path / "first.ipynb", SEEDS["cat"])
    release_copy(tmp_path / "second.ipynb", 2024)
    with zipfile.ZipFile(returned / "cat.zip", "w") as archive:
        archive.write(tmp_path / "first.ipynb", f"cat/{M01.notebook_name}")
        archive.write(tmp_path / "second.ipynb", f"cat/old/{M01.notebook_name}")
        archive.writestr("cat/notes.txt", "hello")
    release_copy(tmp_path / "changed.ipynb", 2024)
    (returned / "dan").mkdir()
    (tmp_path / "changed.ipynb").rename(returned / "dan" / M01.notebook_name)
    (returned / "stranger").mkdir()

    handed = {h.candidate.candidate_id: h for h in returns.collect(returned, PEOPLE, SEEDS, work)}
    assert list(handed["ana"].notebooks) == [M01.slug] and not handed["ana"].notes
    assert handed["ana"].notebooks[M01.slug] == work / "ana" / M01.notebook_name
    assert sorted(p.name for p in (work / "ana").iterdir()) == [M01.notebook_name]
    assert handed["ben"].notebooks == {}  # links are never followed
    assert handed["cat"].notebooks[M01.slug].read_bytes() == (tmp_path / "first.ipynb").read_bytes()
    assert any("More than one" in note for note in handed["cat"].notes)
    assert handed["dan"].notes == [f"{M01.notebook_name} states seed 2024, not the seed issued to this candidate; "
                                   f"it was graded on the issued seed."]


def test_nothing_handed_in_and_a_broken_zip(tmp_path):
    returned = tmp_path / "returned"
    returned.mkdir()
    (returned / "ben.zip").write_bytes(b"not a zip")
    handed = {h.candidate.candidate_id: h for h in returns.collect(returned, PEOPLE, SEEDS, tmp_path / "work")}
    assert handed["ana"].notes == ["Nothing was handed in."]
    assert handed["ben"].notes == ["ben.zip is not a readable zip file."]
