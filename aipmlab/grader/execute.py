"""Run a submitted notebook in the sandbox process (see `sandbox`) and collect what it sends back.

Where the machine allows it (Linux, as root, with util-linux `unshare`), the notebook runs in fresh
mount, PID, network, IPC and UTS namespaces, chrooted into an allow-list root, as a user id of its own (no account, no privileges). Elsewhere
the best available is a separate process with a scrubbed environment and resource limits in a
temporary folder; that is weaker, it says so, and the caller must accept it explicitly.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from aipmlab.grader import extract
from aipmlab.grader.engine import IsolationUnavailable, Limits

SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
SANDBOX_UID_BASE, SANDBOX_UID_SPAN = 1_500_000_000, 100_000_000  # far above any real account's id
SANDBOX_ENVIRONMENT = {
    "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "USER": "sandbox",
    "LOGNAME": "sandbox",
    "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/tmp/matplotlib", "IPYTHONDIR": "/tmp/ipython",
    "JUPYTER_RUNTIME_DIR": "/tmp/jupyter-runtime", "JUPYTER_CONFIG_DIR": "/tmp/jupyter-config",
    "JUPYTER_DATA_DIR": "/tmp/jupyter-data", "JUPYTER_PLATFORM_DIRS": "1", "PYTHONDONTWRITEBYTECODE": "1",
    "PYDEVD_DISABLE_FILE_VALIDATION": "1", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2",
}


class SandboxFailed(RuntimeError):
    """The sandbox itself could not be built: a problem of the grading machine, never the submission's fault."""


@dataclass(frozen=True)
class Isolation:
    """How the sandbox will isolate a notebook, and the same in words for the record."""

    namespaces: bool
    description: str


@dataclass
class Run:
    """What came back from one sandboxed run: the last good answer per key, and how the run ended."""

    answers: dict[str, Any] = field(default_factory=dict)
    status: str = "graded"
    reason: str = ""


@lru_cache(maxsize=1)
def namespaces_available() -> bool:
    """True when this process can create the sandbox's namespaces (Linux, root, util-linux unshare)."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = ["unshare", "--mount", "--net", "--pid", "--ipc", "--uts", "--fork", "true"]
    try:
        return subprocess.run(probe, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def isolation(allow_unisolated: bool) -> Isolation:
    """The strongest isolation available here; without namespaces, refuse unless the caller accepts it."""
    if namespaces_available():
        return Isolation(True, "separate mount, PID, network, IPC and UTS namespaces; chroot into an allow-list "
                               "root (system, Python, environment, aipmlab, public data; read-only); runs as "
                               "an unprivileged user id of its own; no network; memory, CPU, file-size and process limits; wall-time limits")
    if not allow_unisolated:
        raise IsolationUnavailable(
            "This machine cannot isolate the notebook (it needs Linux, root and util-linux `unshare`). Grade "
            "here only if you accept that a submission could read this machine's files: pass allow_unisolated "
            "(--allow-unisolated on the command line).")
    return Isolation(False, "UNISOLATED: a separate process in a temporary folder with a scrubbed environment "
                            "and memory, CPU, file-size and time limits; it can read this user's files")


def _readonly_paths() -> list[str]:
    """Host folders the notebook needs, bound read-only at the same place: system, Python, the environment."""
    wanted = list(SYSTEM_PATHS)
    for path in (sys.prefix, sys.base_prefix, sysconfig.get_paths()["stdlib"]):
        wanted += [str(Path(path).absolute()), str(Path(path).resolve())]  # as named and behind any symlink
    venv_python = Path(sys.executable)
    wanted.append(str(venv_python.resolve().parent.parent))
    return sorted(set(wanted))


def _kit_paths() -> dict[str, str]:
    """The package and the public data, bound read-only under /kit; nothing else of the kit is visible."""
    import aipmlab
    from aipmlab import paths

    return {"/kit/aipmlab": str(Path(aipmlab.__file__).resolve().parent), "/kit/datasets": str(paths.datasets_dir())}


def run(notebook: Any, keys: list[str], seed: int, limits: Limits, mode: Isolation) -> Run:
    """Execute `notebook` with `seed` injected, in the sandbox, within `limits`; return what it answered."""
    import nbformat

    parameterized = parameterize(notebook, seed)
    host = _fresh_host_folder()
    try:
        work, root = host / "work", host / "root"
        work.mkdir()
        root.mkdir()
        (work / "home").mkdir()
        nbformat.write(parameterized, work / "submission.ipynb")
        nobody = pwd.getpwnam("nobody")
        # In the sandbox each notebook runs as a user id of its own, unused by anyone else: the process
        # limit then counts that notebook alone, so one submission's fork bomb cannot starve another's.
        uid = gid = SANDBOX_UID_BASE + secrets.randbelow(SANDBOX_UID_SPAN) if mode.namespaces else nobody.pw_uid
        if mode.namespaces:
            for path in (work, work / "home", work / "submission.ipynb"):
                os.chown(path, uid, gid)
        nonce = secrets.token_hex(16)
        in_sandbox = mode.namespaces
        environment = dict(SANDBOX_ENVIRONMENT, HOME="/sandbox/home" if in_sandbox else str(work / "home"),
                           PYTHONPATH="/kit" if in_sandbox else str(Path(_kit_paths()["/kit/aipmlab"]).parent))
        spec = {"mode": "namespaces" if in_sandbox else "process", "root": str(root), "work": str(work),
                "readonly": _readonly_paths(), "kit": _kit_paths(), "keys": keys, "nonce": nonce,
                "notebook": "submission.ipynb", "uid": uid, "gid": gid, "tmp_mib": 512,
                "environment": environment, "limits": {
                    "memory_mib": limits.memory_mib, "cpu_seconds": limits.cpu_seconds,
                    "cell_seconds": limits.cell_seconds, "output_kib": limits.output_kib}}
        return _launch(spec, host, keys, limits, in_sandbox)
    finally:
        if os.environ.get("AIPMLAB_GRADER_KEEP_SANDBOX") != "1":  # the grader's own switch, for debugging
            shutil.rmtree(host, ignore_errors=True)


def parameterize(notebook: Any, seed: int) -> Any:
    """The notebook as it is run: each cell numbered by its place as handed in, the grader's seed injected."""
    from papermill.parameterize import parameterize_notebook

    for position, cell in enumerate(notebook.cells, start=1):
        cell.metadata["aipmlab_position"] = position
        tags = cell.metadata.get("tags")
        cell.metadata["tags"] = [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata.setdefault("language_info", {})["name"] = "python"
    notebook.metadata["papermill"] = {}
    return parameterize_notebook(notebook, {"seed": seed}, kernel_name="python3", language="python")


def _alive(pid: int) -> bool:
    """True when a process with this PID exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fresh_host_folder() -> Path:
    """A private folder for one run, named after this grader's PID; folders left by killed graders are removed."""
    parent = Path(tempfile.gettempdir()) / "aipmlab-grading"
    parent.mkdir(mode=0o700, exist_ok=True)
    for stale in parent.iterdir():
        owner = stale.name.split("-", 1)[0]
        if owner.isdigit() and not _alive(int(owner)):
            shutil.rmtree(stale, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=parent))


def _launch(spec: dict, host: Path, keys: list[str], limits: Limits, in_sandbox: bool) -> Run:
    package_parent = str(Path(spec["kit"]["/kit/aipmlab"]).parent)
    launcher_environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": package_parent,
                            "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
    answers_path, log_path = host / "answers.jsonl", host / "sandbox.log"
    with open(answers_path, "wb") as answers_file, open(log_path, "wb") as log:
        spec = dict(spec, answers_fd=answers_file.fileno())
        command = [sys.executable, "-m", "aipmlab.grader.sandbox", json.dumps(spec)]
        if in_sandbox:
            command = ["unshare", "--mount", "--net", "--pid", "--ipc", "--uts", "--fork", "--kill-child", *command]
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                   env=launcher_environment, start_new_session=True, cwd=str(host),
                                   pass_fds=(answers_file.fileno(),), preexec_fn=_die_with_parent)
        timed_out = False
        try:
            process.wait(timeout=limits.wall_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _kill_group(process)
    return read_run(answers_path, keys, limits, timed_out, process.returncode)


def read_run(answers_path: Path, keys: list[str], limits: Limits, timed_out: bool, exit_code: int | None) -> Run:
    """What one sandboxed run answered and how it ended, from its answer lines (within the output limit)."""
    with open(answers_path, "rb") as answers_file:
        lines = answers_file.read(limits.output_kib * 1024 + 1).splitlines()
    answers, events = extract.parse_snapshots(lines, keys, limits.output_kib * 1024)
    names = [event.get("event") for event in events]
    broken = [event for event in events if event.get("event") == "sandbox-failed"]
    if broken and ("started" not in names or names.index("sandbox-failed") < names.index("started")):
        raise SandboxFailed(f"The sandbox could not be set up on this machine ({broken[0].get('reason')}); "
                            "nothing was graded.")
    result = Run(answers=answers)
    ends = [event for event in events if event.get("event") == "end"]
    if timed_out:
        result.status, result.reason = "partial", (f"the notebook ran longer than {limits.wall_seconds} seconds "
                                                   "in all and was stopped.")
    elif any(event.get("event") == "overflow" for event in events):
        result.status, result.reason = "partial", (f"the notebook sent more than {limits.output_kib} KiB of "
                                                   "answers; the rest was ignored.")
    elif ends and ends[-1].get("status") in ("graded", "partial"):
        result.status, result.reason = str(ends[-1]["status"]), str(ends[-1].get("reason", ""))[:300]
    else:
        result.status = "partial"
        result.reason = (f"the sandbox stopped before the notebook finished (exit code {exit_code}), "
                         "most likely a memory, CPU or process limit.")
    return result


def _die_with_parent() -> None:
    """In the child before it runs: be killed when the grader dies, so a killed grader leaves no sandbox running."""
    import ctypes

    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


def _kill_group(process: subprocess.Popen) -> None:
    """Kill the sandbox's whole process group (and with its PID namespace's first process, everything in it)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()
