"""The sandbox process: build an allow-list root, drop to an unprivileged user id of its own, run the notebook, stream its answers.

Run by `execute` as `unshare --mount --net --pid --ipc --uts --fork --kill-child python -m
aipmlab.grader.sandbox SPEC`. It starts as root inside fresh namespaces, so its mounts are its own:
it mounts an empty tmpfs as the new root and binds into it, read-only, only what running a notebook
needs (the system's programs and libraries, the Python installation, the environment, the `aipmlab`
package and the public data), then the submission's folder read-write, a fresh /proc, a minimal /dev
and a private /tmp. It chroots there, sets resource limits, gives up root for good, and executes the
notebook with nbclient. Answers go to the descriptor the grader passed, one JSON line per change.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from aipmlab.grader import extract  # imported before the chroot: the host's package path is gone after

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = (
    1, 2, 4, 8, 32, 4096, 16384, 1 << 18)
PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 4, 38
KIT_IN_SANDBOX = "/kit"
WORK_IN_SANDBOX = "/sandbox"
DEVICES = ("null", "zero", "full", "random", "urandom")

_libc = ctypes.CDLL(None, use_errno=True)


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    encode = lambda text: text.encode() if text is not None else None  # noqa: E731
    if _libc.mount(encode(source), encode(target), encode(fstype), ctypes.c_ulong(flags), encode(data)) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"mount {source} on {target}: {os.strerror(error)}")


def _bind_readonly(source: str, target: str) -> None:
    if Path(source).is_dir():
        Path(target).mkdir(parents=True, exist_ok=True)
    else:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).touch()
    _mount(source, target, None, MS_BIND | MS_REC)
    _mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def build_root(spec: dict) -> None:
    """Mount the allow-list root at spec['root'] and chroot into it (needs root in a private mount namespace)."""
    root = spec["root"]
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=755")
    # The private /tmp first: a kit or environment that lives under the host's /tmp is bound on top of it.
    os.makedirs(root + "/tmp")
    _mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={spec['tmp_mib']}m,mode=1777")
    for path in spec["readonly"]:
        if os.path.islink(path) and path.count("/") == 1:  # /bin -> usr/bin on merged-/usr systems
            os.symlink(os.readlink(path), root + path)
        elif os.path.exists(path):
            _bind_readonly(path, root + path)
    for inside, outside in spec["kit"].items():
        _bind_readonly(outside, root + inside)
    os.makedirs(root + "/proc")
    _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.makedirs(root + "/dev")
    _mount("tmpfs", root + "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=755")
    for device in DEVICES:
        Path(root + "/dev/" + device).touch()
        _mount("/dev/" + device, root + "/dev/" + device, None, MS_BIND)
    os.makedirs(root + "/dev/shm")
    _mount("tmpfs", root + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, root + "/dev/" + name)
    os.makedirs(root + WORK_IN_SANDBOX)
    _mount(spec["work"], root + WORK_IN_SANDBOX, None, MS_BIND)
    _mount(None, root + WORK_IN_SANDBOX, None, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV)
    _mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "size=16m,mode=755")
    os.chroot(root)
    os.chdir(WORK_IN_SANDBOX)


def apply_limits(limits: dict) -> None:
    """Memory, CPU time, file size, processes and open files for this process and everything it starts."""
    memory = limits["memory_mib"] * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_seconds"], limits["cpu_seconds"] + 5))
    files = max(limits["output_kib"], 16 * 1024) * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (files, files))
    resource.setrlimit(resource.RLIMIT_NPROC, (256, 256))
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def drop_privileges(uid: int, gid: int) -> None:
    """Become an unprivileged user for good: no groups, no way back to root, no new privileges, not traceable."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    if os.geteuid() == 0 or os.getuid() == 0:
        raise PermissionError("could not give up root")


EXIT_REASON = ("the notebook called exit() in cell {cell}, so that cell's answers and the cells after it were not "
               "read.")
CELL_TIMEOUT_REASON = "cell {cell} ran longer than {seconds} seconds and was stopped."
KERNEL_DIED_REASON = "the kernel died in cell {cell} (it exited, crashed or ran out of a limit)."


class NotebookExited(Exception):
    """The notebook called exit(): its kernel is shutting down."""


class _Answers:
    """Writes answer snapshots (only when they change) and events to the grader's descriptor."""

    def __init__(self, fd: int):
        self.stream = os.fdopen(fd, "wb", buffering=0)
        self.last: dict[str, str] = {}

    def write(self, record: dict) -> None:
        try:
            self.stream.write(json.dumps(record).encode("utf-8") + b"\n")
        except OSError:  # over the file-size limit: the grader reports the overflow
            pass

    def snapshot(self, position: int, answers: Any) -> None:
        if not isinstance(answers, dict):
            return
        changed = {}
        for key, value in answers.items():
            text = json.dumps(value, sort_keys=True)
            if self.last.get(key) != text:
                self.last[key] = text
                changed[key] = value
        if changed:
            self.write({"event": "answers", "cell": position, "answers": changed})


def execute(spec: dict, answers: _Answers) -> None:
    """Run the notebook cell by cell; after each code cell, run the hidden snippet and pass its answers on."""
    notebook = nbformat.read(spec["notebook"], as_version=4)
    keys, nonce = spec["keys"], spec["nonce"]

    class AnswerCollectingClient(NotebookClient):
        position = 0         # the running cell's place in the handed-in notebook, for reasons
        collecting = False   # True while the snippet runs: only its outputs are kept
        last_reply: dict = {}

        def output(self, outs, msg, display_id, cell_index):  # type: ignore[override]
            return super().output(outs, msg, display_id, cell_index) if self.collecting else None

        async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
            self.position = cell.get("metadata", {}).get("aipmlab_position", cell_index + 1)
            self.last_reply = {}
            done = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
            payloads = self.last_reply.get("content", {}).get("payload", [])
            if any(isinstance(p, dict) and p.get("source") == "ask_exit" for p in payloads):
                raise NotebookExited()  # the kernel is shutting down: stop here, the same way every time
            if cell.cell_type == "code" and cell.source.strip():
                await self.collect(cell_index)
            return done

        async def collect(self, cell_index: int) -> None:
            probe = nbformat.v4.new_code_cell(extract.snippet(keys, nonce))
            self.collecting = True
            try:
                await super().async_execute_cell(probe, cell_index, store_history=False)
            finally:
                self.collecting = False
            for output in probe.outputs:
                payload = output.get("data", {}).get(extract.ANSWERS_MIME)
                if isinstance(payload, dict) and payload.get("nonce") == nonce:
                    answers.snapshot(self.position, payload.get("answers"))

    manager = AsyncKernelManager(kernel_name="python3", transport="ipc", ip="/tmp/kernel-ipc")
    client = AnswerCollectingClient(
        notebook, km=manager, kernel_name="python3", timeout=spec["limits"]["cell_seconds"], allow_errors=True,
        interrupt_on_timeout=False, record_timing=False, startup_timeout=120, shutdown_kernel="immediate",
        resources={"metadata": {"path": os.getcwd()}})
    client.on_cell_executed = lambda **hook: setattr(client, "last_reply", hook.get("execute_reply") or {})
    try:
        client.execute()
    except NotebookExited:
        answers.write({"event": "end", "status": "partial", "reason": EXIT_REASON.format(cell=client.position)})
    except CellTimeoutError:
        answers.write({"event": "end", "status": "partial", "reason": CELL_TIMEOUT_REASON.format(
            cell=client.position, seconds=spec["limits"]["cell_seconds"])})
    except DeadKernelError:
        answers.write({"event": "end", "status": "partial", "reason": KERNEL_DIED_REASON.format(cell=client.position)})
    else:
        answers.write({"event": "end", "status": "graded", "reason": ""})


def main(argv: list[str]) -> int:
    """Set up the sandbox described by the JSON spec in argv[1], then execute the notebook in it."""
    spec = json.loads(argv[1])
    answers = _Answers(spec["answers_fd"])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        if spec["mode"] == "namespaces":
            build_root(spec)
            sys.path.insert(0, KIT_IN_SANDBOX)
        else:
            os.chdir(spec["work"])
        apply_limits(spec["limits"])
        if spec["mode"] == "namespaces":
            drop_privileges(spec["uid"], spec["gid"])
    except Exception as error:  # the machine, not the notebook: the grader stops rather than record a zero
        traceback.print_exc()
        answers.write({"event": "sandbox-failed", "reason": f"{type(error).__name__}: {error}"[:300]})
        return 2
    os.environ.clear()
    os.environ.update(spec["environment"])
    answers.write({"event": "started", "time": time.time()})
    try:
        execute(spec, answers)
    except Exception as error:  # the executor itself failed: a reason, never a traceback with paths
        traceback.print_exc()  # to the grader's log, which the learner never sees
        answers.write({"event": "end", "status": "partial",
                       "reason": f"the notebook could not be run to the end ({type(error).__name__})."})
    return 0


if __name__ == "__main__":
    status = main(sys.argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)  # the answers are written unbuffered and the kernel is stopped: skip the interpreter's teardown
