"""The quick-start script and the command line: a learner's notebooks are never overwritten."""

from __future__ import annotations

import importlib.util
import shutil

import pytest

from aipmlab import cli, datasets
from tests.conftest import ROOT


@pytest.fixture()
def bootstrap(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("bootstrap", ROOT / "tools" / "bootstrap.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    monkeypatch.setattr(module, "RELEASE", tmp_path / "notebooks")
    monkeypatch.setattr(module, "WORKSPACE", tmp_path / "my-work")
    return module


def test_workspace_copy_adds_new_notebooks_and_never_overwrites(bootstrap, tmp_path):
    copied = bootstrap.copy_release_to_workspace()
    assert {p.name for p in copied} == {p.name for p in (ROOT / "notebooks").glob("*/*.ipynb")}
    mine = copied[0]
    mine.write_text("my work in progress")
    assert bootstrap.copy_release_to_workspace() == []
    assert mine.read_text() == "my work in progress"


def test_install_fingerprint_follows_the_lock_and_pyproject(bootstrap):
    assert bootstrap.install_fingerprint() == bootstrap.install_fingerprint()
    assert len(bootstrap.install_fingerprint()) == 64


def test_bootstrap_without_a_command_prints_usage(bootstrap, capsys):
    with pytest.raises(SystemExit) as stop:
        bootstrap.main([])
    assert stop.value.code == 2 and "make" not in capsys.readouterr().out.split("\n")[0]


def test_cli_datasets_rewrites_identical_files(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AIPMLAB_HOME", str(tmp_path))
    assert cli.main(["datasets"]) == 0
    for table, data in datasets.canonical_files().items():
        assert (tmp_path / "datasets" / f"{table}.csv").read_bytes() == (ROOT / "datasets" / f"{table}.csv").read_bytes()
    assert "wrote datasets/" in capsys.readouterr().out


def test_cli_without_a_task_explains_itself(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main([])
    assert stop.value.code == 2 and "release" in capsys.readouterr().err


def test_bootstrap_help_exits_zero_and_an_unknown_command_says_so(bootstrap, capsys):
    with pytest.raises(SystemExit) as stop:
        bootstrap.main(["--help"])
    assert stop.value.code == 0 and "bootstrap.py lab" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:
        bootstrap.main(["nosuch"])
    assert stop.value.code == 2 and "Unknown command 'nosuch'" in capsys.readouterr().err


def test_reset_keeps_the_learners_copy_as_a_backup(bootstrap, tmp_path):
    bootstrap.copy_release_to_workspace()
    mine = next((tmp_path / "my-work").glob("01-*/*.ipynb"))
    mine.write_text("my work in progress")
    fresh = bootstrap.reset_notebook("1")
    assert fresh == mine and fresh.read_text() != "my work in progress"
    backups = list(mine.parent.glob("*.backup-*.ipynb"))
    assert len(backups) == 1 and backups[0].read_text() == "my work in progress"
    with pytest.raises(SystemExit, match="no module '99'"):
        bootstrap.reset_notebook("99")


def test_make_help_lists_every_target_and_is_the_default():
    import subprocess

    listed = subprocess.run(["make", "-s", "-C", str(ROOT)], capture_output=True, text=True, check=True).stdout
    targets = [line.split(":")[0] for line in (ROOT / "Makefile").read_text().splitlines()
               if line[:1].isalpha() and ":" in line and "##" in line]
    assert targets and all(f"  {target} " in listed for target in targets), listed


def test_learner_lab_switches_off_nbgrader_instructor_tools():
    import json

    learner = ROOT / "tools" / "jupyter-learner"
    server = json.loads((learner / "jupyter_server_config.json").read_text())["ServerApp"]["jpserver_extensions"]
    assert server and not any(server.values()) and all(name.startswith("nbgrader.") for name in server)
    page = json.loads((learner / "labconfig" / "page_config.json").read_text())
    assert page["disabledExtensions"] == {"@jupyter/nbgrader": True}


@pytest.fixture()
def kit_copy(tmp_path, monkeypatch):
    """A throwaway copy of the kit, so release errors can be provoked without touching the repository."""
    for folder in ("solutions", "notebooks", "datasets", "grading"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    monkeypatch.setenv("AIPMLAB_HOME", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize(("damage", "expected"), [
    (lambda path: path.unlink(), "does not exist"),
    (lambda path: path.write_text(""), "is empty"),
    (lambda path: path.write_bytes(b"\xff\xfe{not utf8"), "not UTF-8"),
    (lambda path: path.write_text("{ this is not json"), "not a valid notebook"),
    (lambda path: path.write_text('{"cells": 3}'), "not a valid notebook"),
])
def test_release_of_a_damaged_source_is_one_clear_line(kit_copy, capsys, damage, expected):
    source = kit_copy / "solutions" / "00-start-here" / "00-start-here.ipynb"
    release_copy = kit_copy / "notebooks" / "00-start-here" / "00-start-here.ipynb"
    before = release_copy.read_bytes()
    damage(source)
    assert cli.main(["release", "00"]) == 2
    error = capsys.readouterr().err.strip()
    assert expected in error and "\n" not in error and "Traceback" not in error
    assert release_copy.read_bytes() == before, "a failed release must not touch the student notebooks"


@pytest.mark.parametrize("arguments", [["release", "99"], ["datasets", "nosuch"]])
def test_cli_unknown_names_are_one_line_and_a_non_zero_exit(arguments, capsys):
    assert cli.main(arguments) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"aipmlab {arguments[0]}: ") and "\n" not in error


def test_python_dash_m_aipmlab_runs_the_cli():
    import subprocess
    import sys

    shown = subprocess.run([sys.executable, "-m", "aipmlab", "--help"], capture_output=True, text=True)
    assert shown.returncode == 0 and "release" in shown.stdout
