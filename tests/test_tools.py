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
