"""Bundles: what each holds, that none holds anything forbidden, and that a candidate can work in one."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill
import pytest
from traitlets.config import Config

from aipmlab import answer_key, course, datasets
from aipmlab.takehome import audit, bundle
from aipmlab.takehome.seeds import TakehomeError, candidate_seed, read_or_create_secret
from aipmlab.takehome.similarity import worked_solutions
from tests.conftest import ROOT, ipc_kernel_prefix
from tests.takehome import handins

CANDIDATES = ("ada", "bob", "cy")


def seeds_of(takehome) -> dict[str, int]:
    secret, _ = read_or_create_secret(takehome["secret"], create=False)
    return {candidate: candidate_seed(secret, candidate) for candidate in CANDIDATES}


def run_in_bundle(folder: Path, code: str) -> subprocess.CompletedProcess:
    """Run Python inside a bundle the way a candidate's kernel would: the bundle first on the path."""
    env = {key: value for key, value in os.environ.items() if key not in ("AIPMLAB_HOME", "PYTHONPATH")}
    env["PYTHONPATH"] = str(folder)
    return subprocess.run([sys.executable, "-c", code], cwd=folder, env=env, capture_output=True, text=True, timeout=120)


def texts(files: dict[str, bytes]) -> dict[str, str]:
    """Each file as text; notebooks as their cell sources, so quotes are not JSON-escaped."""
    return {name: "\n".join(c.source for c in nbformat.reads(data.decode(), as_version=4).cells)
            if name.endswith(".ipynb") else data.decode("utf-8", errors="replace") for name, data in files.items()}


def test_each_candidate_gets_a_folder_and_a_zip_with_their_seed(takehome):
    seeds = seeds_of(takehome)
    for candidate in CANDIDATES:
        folder = takehome["bundles"] / candidate
        assert sorted(audit.bundle_texts(folder)) == sorted(audit.bundle_texts(takehome["bundles"] / f"{candidate}.zip"))
        for module in (course.module("00"), course.module("01")):
            notebook = nbformat.read(folder / module.notebook_name, as_version=4)
            assert f"seed = {seeds[candidate]}" in notebook.cells[[("parameters" in c.metadata.get("tags", []))
                                                                    for c in notebook.cells].index(True)].source
            assert notebook.metadata["aipmlab"]["takehome"] == {"candidate_id": candidate, "module": module.slug,
                                                                "seed": seeds[candidate]}
        manifest = json.loads((folder / "datasets" / "MANIFEST.json").read_text())["tables"]
        assert sorted(manifest) == ["smart_reply_invariance", "smart_reply_messages"]
        assert {entry["seed"] for entry in manifest.values()} == {seeds[candidate]}
        readme = (folder / "README.md").read_text()
        assert "4 hours" in readme and "pip install -r requirements.txt" in readme and f"`{candidate}`" in readme
        assert "nbgrader" not in (folder / "requirements.txt").read_text()


def test_create_is_reproducible_from_the_secret(takehome, tmp_path):
    bundle.create("00,01", takehome["candidates"], 4, takehome["secret"], tmp_path / "again")
    for candidate in CANDIDATES:
        assert (tmp_path / "again" / f"{candidate}.zip").read_bytes() == (takehome["bundles"] / f"{candidate}.zip").read_bytes()


@pytest.mark.parametrize("candidate", CANDIDATES)
@pytest.mark.parametrize("form", ["folder", "zip"])
def test_no_bundle_holds_anything_forbidden(takehome, candidate, form):
    path = takehome["bundles"] / (candidate if form == "folder" else f"{candidate}.zip")
    files = audit.bundle_texts(path)
    seeds = seeds_of(takehome)
    secret, _ = read_or_create_secret(takehome["secret"], create=False)
    banned = audit.forbidden(secret, [seed for other, seed in seeds.items() if other != candidate])
    assert audit.find_leaks(files, banned) == []
    # The same, checked directly against the sources rather than through the audit's own lists:
    assert not [name for name in files if name.split("/")[0] in ("grading", "solutions", "tests")]
    allowed_in_datasets = {"aipmlab/datasets/__init__.py", "aipmlab/datasets/family.py",
                           "aipmlab/datasets/ticket_vocabulary.py"}  # public names only, no plants
    assert {name for name in files if name.startswith("aipmlab/datasets/")} == allowed_in_datasets
    assert not [name for name in files if name.startswith(("aipmlab/takehome", "aipmlab/grader"))]
    corpus = "\n".join(texts(files).values())
    assert secret.decode() not in corpus
    assert not [other for other, seed in seeds.items() if other != candidate and str(seed) in corpus]
    release_lines = {line.strip() for m in course.modules()
                     for c in nbformat.read(ROOT / "notebooks" / m.slug / m.notebook_name, as_version=4).cells
                     for line in c.source.splitlines()}
    for module in (course.module("00"), course.module("01")):
        for key, code in worked_solutions(module).items():
            own = [line.strip() for line in code.splitlines() if len(line.strip()) >= 20 and line.strip() not in release_lines]
            assert not [line for line in own if line in corpus], f"solution of {key} leaked"
        rubrics = answer_key.load(module.code_name).RUBRICS
        for rubric in rubrics.values():
            assert not [level.looks_like for c in rubric.criteria for level in c.levels if level.looks_like in corpus]
    generator = (ROOT / "aipmlab" / "datasets" / "smart_reply.py").read_text()
    planted = re.findall(r"^([A-Z][A-Z0-9_]*(?:EFFECT|RANGE|CODE_SWITCH))\s*=", generator, re.MULTILINE)
    assert len(planted) >= 3 and not [constant for constant in planted if constant in corpus]


@pytest.mark.parametrize("plant, finds", [
    (lambda f: f.update({"grading/answer_key/m01_failure_boundaries.py": b"x"}), "never ships"),
    (lambda f: f.update({"aipmlab/datasets/smart_reply.py": b"x"}), "never ships"),
    (lambda f: f.update({"notes.txt": (ROOT / "aipmlab/datasets/smart_reply.py").read_bytes()}), "a generator"),
    (lambda f: f.update({"notes.txt": b"def _lowest_threshold(frame):"}), "function name"),
])
def test_the_audit_finds_planted_leaks(takehome, plant, finds):
    files = audit.bundle_texts(takehome["bundles"] / "ada")
    plant(files)
    leaks = audit.find_leaks(files, audit.forbidden(b"x" * 64, [12345]))
    assert leaks and any(finds in leak for leak in leaks)


def test_the_audit_finds_a_solution_line_the_secret_and_another_seed(takehome):
    files = audit.bundle_texts(takehome["bundles"] / "ada")
    module = course.module("01")
    notebook = nbformat.reads(files[module.notebook_name].decode(), as_version=4)
    notebook.cells[-1].source += "\n" + worked_solutions(module)["trigger_thresholds"]
    files[module.notebook_name] = nbformat.writes(notebook).encode()
    files["README.md"] += b"\nsecret: " + b"s" * 64 + b" and seed 987654321\n"
    leaks = audit.find_leaks(files, audit.forbidden(b"s" * 64, [987654321]))
    assert any("worked solution" in leak for leak in leaks)
    assert sum("secret or another candidate's seed" in leak for leak in leaks) == 2


def test_create_hands_out_nothing_when_a_bundle_would_leak(takehome, tmp_path, monkeypatch):
    monkeypatch.setattr(audit, "forbidden", lambda secret, seeds: audit.Forbidden(frozenset(), frozenset(), frozenset(["Lab"])))
    with pytest.raises(TakehomeError, match="would leak"):
        bundle.create("00", takehome["candidates"], 2, takehome["secret"], tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("modules, candidates, secret_inside, message", [
    ("09", None, False, "There is no module"),
    ("00", None, True, "outside the --out folder"),
])
def test_create_refuses_clearly(takehome, tmp_path, modules, candidates, secret_inside, message):
    secret = tmp_path / "out" / "secret.txt" if secret_inside else takehome["secret"]
    with pytest.raises(TakehomeError, match=message):
        bundle.create(modules, takehome["candidates"], 4, secret, tmp_path / "out")


def test_create_never_overwrites_bundles(takehome):
    with pytest.raises(TakehomeError, match="already holds bundles"):
        bundle.create("00", takehome["candidates"], 4, takehome["secret"], takehome["bundles"])


def test_lab_in_a_bundle_checks_shape_and_keeps_the_rest_back(takehome, tmp_path):
    folder = Path(shutil.copytree(takehome["bundles"] / "ada", tmp_path / "ada"))
    seed = seeds_of(takehome)["ada"]
    result = run_in_bundle(folder, f"""
import aipmlab
assert aipmlab.__file__.startswith({str(folder)!r}), aipmlab.__file__
from aipmlab import Lab
lab = Lab("01", seed={seed})
messages = lab.load("smart_reply_messages")
lab.check("overall_quality", {{"n": len(messages), "good_rate": 0.5, "ci_low": 0.4, "ci_high": 0.6}})
lab.solution("overall_quality"); lab.rubric("boundary_statement"); lab.deploy("overall_quality", {{}})
print(lab.has_answer_key)
try:
    Lab("01", seed=7).load("smart_reply_messages")
except ValueError as error:
    print(error)
""")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "its shape is right" in out and "points" not in out.replace("shows no points", "")
    assert out.count("This is a take-home") == 3 and "False" in out
    assert f"holds data for seed {seed} only" in out


def test_a_changed_data_file_is_refused_in_a_bundle(takehome, tmp_path):
    folder = Path(shutil.copytree(takehome["bundles"] / "bob", tmp_path / "bob"))
    with (folder / "datasets" / "smart_reply_messages.csv").open("a") as handle:
        handle.write("m99999,English,False,English,3,short,0,none,0.999,5\n")
    result = run_in_bundle(folder, f"from aipmlab import Lab; Lab('01', seed={seeds_of(takehome)['bob']}).load('smart_reply_messages')")
    assert result.returncode != 0 and "does not match its checksum" in result.stderr


def test_a_changed_canonical_file_is_refused_in_the_repository(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "datasets", tmp_path / "datasets")
    data = (tmp_path / "datasets" / "smart_reply_messages.csv").read_bytes()
    (tmp_path / "datasets" / "smart_reply_messages.csv").write_bytes(data.replace(b",5\n", b",4\n", 1))
    monkeypatch.setenv("AIPMLAB_HOME", str(tmp_path))
    datasets._load_cached.cache_clear()
    try:
        with pytest.raises(datasets.DataFileError, match="aipmlab datasets"):
            datasets.load("smart_reply_messages")
        assert len(datasets.load("smart_reply_invariance")) > 0  # untouched files still load
    finally:
        datasets._load_cached.cache_clear()


def run_worked_answers_in_bundle(folder: Path, module, tmp_path: Path, monkeypatch) -> str:
    """Fill a bundle notebook with the worked answers, run it as a candidate would (only the bundle on the
    path), and return what it printed."""
    handins.fill(folder / module.notebook_name, module)
    monkeypatch.delenv("AIPMLAB_HOME", raising=False)
    monkeypatch.setenv("PYTHONPATH", str(folder))
    executed = papermill.execute_notebook(
        str(folder / module.notebook_name), str(tmp_path / "ran.ipynb"), cwd=str(folder), kernel_name="python3",
        progress_bar=False, request_save_on_cell_execute=False, shutdown_kernel="immediate",
        config=Config({"KernelManager": {"transport": "ipc", "ip": ipc_kernel_prefix()}}))
    return "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
                   if o.get("name") == "stdout")


@pytest.mark.slow
@pytest.mark.parametrize("number", ["00", "01"])
def test_a_candidate_can_run_a_bundle_notebook_with_papermill(takehome, tmp_path, monkeypatch, number):
    folder = Path(shutil.copytree(takehome["bundles"] / "cy", tmp_path / "cy"))
    module = course.module(number)
    stdout = run_worked_answers_in_bundle(folder, module, tmp_path, monkeypatch)
    assert stdout.count("its shape is right") == len(module.exercises)
    assert "correct," not in stdout and "/2 points" not in stdout


@pytest.mark.slow
def test_modules_02_and_03_go_into_a_bundle_and_run_there(takehome, tmp_path, monkeypatch):
    out = tmp_path / "out"
    bundles = bundle.create("02,03", takehome["candidates"], 4, takehome["secret"], out)
    folder = Path(shutil.copytree(bundles[0].folder, tmp_path / "candidate"))
    assert not list(folder.rglob("support_tickets.py")) and not list(folder.rglob("annotation_pilot.py"))
    module = course.module("02")
    stdout = run_worked_answers_in_bundle(folder, module, tmp_path, monkeypatch)
    assert stdout.count("its shape is right") + stdout.count("ready for review") == len(module.exercises)


def test_a_module_whose_exercises_import_a_generator_is_refused(tmp_path, monkeypatch):
    exercises = tmp_path / "aipmlab" / "exercises"
    exercises.mkdir(parents=True)
    source = (ROOT / "aipmlab" / "exercises" / "m01_failure_boundaries.py").read_text()
    (exercises / "m01_failure_boundaries.py").write_text("from aipmlab.datasets.smart_reply import LANGUAGES\n" + source)
    monkeypatch.setenv("AIPMLAB_HOME", str(tmp_path))
    with pytest.raises(TakehomeError, match="import the data generator"):
        bundle.package_files((course.module("01"),))
