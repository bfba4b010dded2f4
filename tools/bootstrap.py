#!/usr/bin/env python3
"""Set up AI PM Lab's local environment and run something in it. Standard library only.

    python3 tools/bootstrap.py lab [jupyter lab options]   set up, then open JupyterLab on module 00 (your copies in my-work/)
    python3 tools/bootstrap.py course [jupyter lab options] set up, then open the instructor's JupyterLab (nbgrader tools)
    python3 tools/bootstrap.py reset NN                    put a fresh copy of module NN in my-work/ (yours is kept as a backup)
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
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
STAMP = VENV / ".aipmlab-installed"
LOCK = ROOT / "requirements.lock"
WORKSPACE = Path(os.environ.get("AIPMLAB_WORKSPACE", ROOT / "my-work")).resolve()  # the override is for tests
RELEASE = ROOT / "notebooks"
FIRST_NOTEBOOK = "00-start-here/00-start-here.ipynb"
MIN_PYTHON = (3, 10)
# JupyterLab settings for an offline course: no news feed, no update checks.
LAB_SETTINGS = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}
# The learner's JupyterLab loads this configuration too: it switches nbgrader's instructor tools off.
LEARNER_CONFIG = ROOT / "tools" / "jupyter-learner"
COMMANDS = ("lab", "course", "reset", "test", "run")


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


def compile_kit() -> None:
    """Write the kit's bytecode now (only files that changed), so no process started later compiles it again:
    where PYTHONDONTWRITEBYTECODE is set, or in the grader's read-only sandbox, each kernel would otherwise compile
    every module it imports (about 0.2 s a kernel)."""
    run([venv_bin("python"), "-m", "compileall", "-q", "aipmlab", "grading"])


def copy_release_to_workspace() -> list[Path]:
    """Copy release notebooks the learner does not have yet into my-work/; never overwrite one."""
    copied = []
    for source in sorted(RELEASE.glob("*/*.ipynb")):
        target = WORKSPACE / source.relative_to(RELEASE)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
            copied.append(target)
    for source in sorted(RELEASE.glob("*/*.md")):  # datasheets: the kit's documents, kept current
        target = WORKSPACE / source.relative_to(RELEASE)
        if target.parent.exists() and (not target.exists() or target.read_bytes() != source.read_bytes()):
            shutil.copy2(source, target)
    return copied


def module_folder(number: str) -> Path:
    """The release folder of module `number` ('01', '1' or a slug), or exit with the modules that exist."""
    folders = sorted(path for path in RELEASE.iterdir() if path.is_dir() and path.name[:2].isdigit())
    wanted = number.split("-", 1)[0].zfill(2) if number[:1].isdigit() else number
    for folder in folders:
        if folder.name == number or folder.name[:2] == wanted:
            return folder
    sys.exit(f"There is no module {number!r}. The modules are: {', '.join(f.name for f in folders)}.")


def reset_notebook(number: str) -> Path:
    """Copy a fresh module notebook into my-work/, keeping the learner's copy as a dated backup beside it."""
    source = next(module_folder(number).glob("*.ipynb"))
    target = WORKSPACE / source.relative_to(RELEASE)
    if target.exists():
        backup = target.with_name(f"{target.stem}.backup-{time.strftime('%Y%m%d-%H%M%S')}{target.suffix}")
        target.rename(backup)
        say(f"your copy is kept as {backup.relative_to(WORKSPACE.parent)}")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)
    return target


def running_server(root_dir: Path) -> str | None:
    """The URL of a JupyterLab already serving `root_dir` from this environment, if there is one."""
    listed = subprocess.run([str(venv_bin("jupyter")), "server", "list", "--json"], capture_output=True, text=True)
    for line in listed.stdout.splitlines():
        try:
            server = json.loads(line)
        except json.JSONDecodeError:
            continue
        if Path(server.get("root_dir", "")).resolve() == root_dir.resolve():
            return f"{server['url'].rstrip('/')}/lab?token={server.get('token', '')}"
    return None


def open_lab(root_dir: Path, first: str | None, extra: list[str], learner: bool) -> None:
    """Start JupyterLab on `root_dir` (opening `first`), or point to the one already running there."""
    url = running_server(root_dir)
    if url:
        say(f"JupyterLab is already running for {root_dir.name}/; open {url}")
        return
    options = [f"--ServerApp.root_dir={root_dir}"]
    if first:
        options.append(f"--LabApp.default_url=/lab/tree/{first}")  # the printed URL opens it too
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers, CI
        options.append("--allow-root")
    env = {"JUPYTER_CONFIG_PATH": str(LEARNER_CONFIG)} if learner else {}
    exec_in_venv("jupyter", ["lab", *options, *extra], env)


def exec_in_venv(program: str, arguments: list[str], extra_env: dict[str, str] | None = None) -> None:
    """Replace this process with `program` from .venv, with .venv's bin first on PATH."""
    env = dict(os.environ, VIRTUAL_ENV=str(VENV), PATH=f"{venv_bin('python').parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.update(extra_env or {})
    env.pop("PYTHONHOME", None)
    executable = venv_bin(program)
    if not executable.exists():
        executable = Path(shutil.which(program, path=env["PATH"]) or program)
    os.chdir(ROOT)
    os.execve(executable, [str(executable), *arguments], env)


def main(argv: list[str]) -> None:
    """Dispatch lab / course / reset / test / run."""
    if argv[:1] in (["-h"], ["--help"], ["help"]):
        print(__doc__)
        sys.exit(0)
    if not argv or argv[0] not in COMMANDS:
        print(__doc__)
        if argv:
            print(f"Unknown command {argv[0]!r}; the commands are: {', '.join(COMMANDS)}.", file=sys.stderr)
        sys.exit(2)
    command, rest = argv[0], argv[1:]
    if command == "reset":
        if len(rest) != 1:
            sys.exit("Usage: python3 tools/bootstrap.py reset NN   (e.g. reset 01; make reset MODULE=01)")
        path = reset_notebook(rest[0])
        say(f"fresh copy: {path.relative_to(WORKSPACE.parent)}")
        return
    ensure_environment()
    compile_kit()
    if command == "lab":
        for path in copy_release_to_workspace():
            say(f"new notebook for you: {path.relative_to(WORKSPACE.parent)}")
        say("opening JupyterLab on module 00; your work is saved in my-work/ (stop with Ctrl+C)")
        open_lab(WORKSPACE, FIRST_NOTEBOOK, rest, learner=True)
    elif command == "course":
        say("opening the instructor's JupyterLab at the repository root (Nbgrader menu: Formgrader)")
        open_lab(ROOT, None, rest, learner=False)
    elif command == "test":
        exec_in_venv("python", ["-m", "pytest", *rest])
    else:
        if not rest:
            sys.exit("Usage: python3 tools/bootstrap.py run COMMAND [ARGS]")
        exec_in_venv(rest[0], rest[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
