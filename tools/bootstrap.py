#!/usr/bin/env python3
"""Set up AI PM Lab's local environment and run something in it. Standard library only.

    python3 tools/bootstrap.py lab [jupyter lab options]   set up, then open JupyterLab on module 00
    python3 tools/bootstrap.py test [pytest options]       set up, then run the whole test suite
    python3 tools/bootstrap.py run COMMAND [ARGS]          set up, then run COMMAND inside .venv

The first run creates .venv/ and installs the exact versions in requirements.lock; later runs
skip installing unless requirements.lock or pyproject.toml changed, so they start in seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
STAMP = VENV / ".aipmlab-installed"
LOCK = ROOT / "requirements.lock"
WORKSPACE = ROOT / "my-work"
RELEASE = ROOT / "notebooks"
FIRST_NOTEBOOK = "00-start-here/00-start-here.ipynb"
MIN_PYTHON = (3, 10)
# JupyterLab settings for an offline course: no news feed, no update checks.
LAB_SETTINGS = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}


def say(message: str) -> None:
    """Print a progress line that stands out from pip's output."""
    print(f"[aipmlab] {message}", flush=True)


def venv_bin(name: str) -> Path:
    """Path of an executable inside the virtual environment."""
    folder = "Scripts" if os.name == "nt" else "bin"
    suffix = ".exe" if os.name == "nt" else ""
    return VENV / folder / f"{name}{suffix}"


def install_fingerprint() -> str:
    """A hash of everything that decides what gets installed."""
    digest = hashlib.sha256()
    for path in (LOCK, ROOT / "pyproject.toml"):
        digest.update(path.read_bytes())
    digest.update(sys.version.encode())
    return digest.hexdigest()


def run(command: list[str | Path]) -> None:
    """Run a command, stopping with its exit code if it fails."""
    result = subprocess.run([str(part) for part in command], cwd=ROOT)
    if result.returncode != 0:
        say(f"failed: {' '.join(map(str, command))}")
        sys.exit(result.returncode)


def ensure_environment() -> None:
    """Create .venv and install the locked versions, unless that is already done."""
    if sys.version_info < MIN_PYTHON:
        sys.exit(f"AI PM Lab needs Python {'.'.join(map(str, MIN_PYTHON))} or newer; this is {sys.version.split()[0]}.")
    fingerprint = install_fingerprint()
    if STAMP.exists() and STAMP.read_text() == fingerprint and venv_bin("python").exists():
        return
    if not venv_bin("python").exists():
        say(f"creating the virtual environment in {VENV.relative_to(ROOT)}/")
        run([sys.executable, "-m", "venv", VENV])
    python = venv_bin("python")
    say("installing the exact versions in requirements.lock (a few minutes, once)")
    run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", LOCK])
    run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps", "-e", "."])
    say("registering the Jupyter kernel for this environment")
    run([python, "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3",
         "--display-name", "Python 3 (AI PM Lab)"])
    overrides = VENV / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    overrides.parent.mkdir(parents=True, exist_ok=True)
    overrides.write_text(json.dumps(LAB_SETTINGS, indent=2) + "\n")
    STAMP.write_text(fingerprint)


def copy_release_to_workspace() -> list[Path]:
    """Copy release notebooks the learner does not have yet into my-work/; never overwrite one."""
    copied = []
    for source in sorted(RELEASE.glob("*/*.ipynb")):
        target = WORKSPACE / source.relative_to(RELEASE)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
            copied.append(target)
    return copied


def exec_in_venv(program: str, arguments: list[str]) -> None:
    """Replace this process with `program` from .venv, with .venv's bin first on PATH."""
    env = dict(os.environ, VIRTUAL_ENV=str(VENV), PATH=f"{venv_bin('python').parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("PYTHONHOME", None)
    executable = venv_bin(program)
    if not executable.exists():
        executable = Path(shutil.which(program, path=env["PATH"]) or program)
    os.chdir(ROOT)
    os.execve(executable, [str(executable), *arguments], env)


def main(argv: list[str]) -> None:
    """Dispatch lab / test / run."""
    if not argv or argv[0] not in {"lab", "test", "run"}:
        print(__doc__)
        sys.exit(2)
    command, rest = argv[0], argv[1:]
    ensure_environment()
    if command == "lab":
        for path in copy_release_to_workspace():
            say(f"new notebook for you: {path.relative_to(ROOT)}")
        say("opening JupyterLab on module 00; your work is saved in my-work/ (stop with Ctrl+C)")
        as_root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []  # containers, CI
        exec_in_venv("jupyter", ["lab", f"--ServerApp.root_dir={WORKSPACE}", *as_root, *rest,
                                 str(WORKSPACE / FIRST_NOTEBOOK)])
    elif command == "test":
        exec_in_venv("python", ["-m", "pytest", *rest])
    else:
        if not rest:
            sys.exit("Usage: python3 tools/bootstrap.py run COMMAND [ARGS]")
        exec_in_venv(rest[0], rest[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
