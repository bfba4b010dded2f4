"""The pre-warmed parent of the fast path: imports the course's libraries once, then forks one child per submission.

Run by `fast` as `unshare --mount --net --pid --ipc --uts --fork --kill-child python -m
aipmlab.grader.zygote SPEC`. It builds the same allow-list root as the engine's sandbox (see
`sandbox.build_root`) and chroots into it *before* it imports anything a notebook uses, so the
parent itself cannot read the answer key, the solutions or a gradebook, and a forked child inherits
nothing a learner must not see. Its `/sandbox` is the grader's job folder (root only).

For each job (a line `{"job": N, "uid": U}` on stdin) it forks a supervisor, which gives the job
fresh mount, PID, network, IPC and UTS namespaces, a private /tmp and a private /sandbox holding
only that notebook, and forks the runner: PID 1 of its namespace, limited like the engine's kernel,
running as a user id of its own. The runner executes the cells with IPython's `InteractiveShell`
and streams each changed answer; the supervisor enforces the per-cell and per-notebook wall time
and the output cap, then writes how the run ended. When the supervisor is gone the parent answers
`{"job": N, "done": true}` on stdout. Nothing of a submission passes through the parent.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import sys
import time
import traceback

from aipmlab.grader import sandbox  # before the chroot: the host's package path is not visible after it

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = (
    0x00020000, 0x04000000, 0x08000000, 0x20000000, 0x40000000)
_libc = ctypes.CDLL(None, use_errno=True)


def _unshare(flags: int) -> None:
    if _libc.unshare(flags) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"unshare: {os.strerror(error)}")


def _reply(record: dict) -> None:
    sys.__stdout__.write(json.dumps(record) + "\n")
    sys.__stdout__.flush()


# --- The parent: chroot, import, warm up ---------------------------------------------------------------------

def enter_jail(spec: dict) -> None:
    """Chroot into the allow-list root, make /kit the package's home, and set the notebook's environment."""
    sandbox.build_root(spec)
    for name in [name for name in sys.modules if name == "aipmlab" or name.startswith("aipmlab.")]:
        del sys.modules[name]  # imported from the host's path; the notebooks import the kit from /kit
    sys.path.insert(0, sandbox.KIT_IN_SANDBOX)
    os.environ.clear()
    os.environ.update(spec["environment"])


def import_libraries() -> None:
    """Everything a notebook of the course imports, once: numpy (one BLAS thread), pandas, matplotlib (Agg),
    seaborn, scipy, scikit-learn, statsmodels, IPython and the kit."""
    import importlib

    import matplotlib

    matplotlib.use("Agg")
    for name in ("numpy", "pandas", "matplotlib.pyplot", "seaborn", "scipy.stats", "sklearn.metrics",
                 "sklearn.model_selection", "sklearn.linear_model", "sklearn.feature_extraction.text",
                 "sklearn.pipeline", "statsmodels.api", "statsmodels.stats.proportion", "krippendorff",
                 "IPython.core.interactiveshell", "aipmlab", "aipmlab.lab", "aipmlab.course", "aipmlab.datasets",
                 "aipmlab.environment", "aipmlab.serialize", "aipmlab.grader.extract"):
        try:
            importlib.import_module(name)
        except ImportError:
            pass  # a library a course does not use: its notebooks will not import it either
    from aipmlab import course

    for module in course.modules():  # every module's exercises, checks and plots
        importlib.import_module(f"aipmlab.exercises.{module.code_name}")


def make_shell():
    """One IPython shell, as a notebook kernel has: no history file, rich output off (nobody looks at it)."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    class NotebookShell(InteractiveShell):
        """IPython's shell with `exit()` as a notebook kernel has it: the kernel is asked to stop."""

        def ask_exit(self) -> None:
            self.exit_now = True

        def enable_gui(self, gui=None) -> None:
            """`%matplotlib inline` needs no event loop; GUI backends are sent to the plain engine (see `fast`)."""

    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "nocolor"
    shell = NotebookShell.instance(config=config)
    shell.display_formatter.active_types = ["text/plain"]  # figures and tables are never rendered to images
    return shell


def _quiet_figures() -> None:
    """Figures are drawn as in JupyterLab but never rasterised: showing one closes it, as the inline backend does."""
    import matplotlib.pyplot as plt

    plt.show = lambda *args, **kwargs: plt.close("all")  # noqa: E731


def warm_up(shell, notebook_path: str) -> float:
    """Run the public release of a module once (the kit's caches for its seed fill up); forget its names."""
    import matplotlib.pyplot as plt
    import nbformat

    started = time.perf_counter()
    notebook = nbformat.read(notebook_path, as_version=4)
    with open(os.devnull, "w") as sink:
        saved = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = sink
        try:
            for cell in notebook.cells:
                if cell.cell_type == "code" and cell.source.strip():
                    shell.run_cell(cell.source, store_history=False, silent=True)
                    plt.close("all")
        finally:
            sys.stdout, sys.stderr = saved
    shell.reset(new_session=False)
    shell.execution_count = 1
    return time.perf_counter() - started


# --- The supervisor and the runner, one pair per job ---------------------------------------------------------

def supervise(job: dict, spec: dict, shell) -> int:
    """In the forked supervisor: private namespaces and folders, fork the runner, watch its time and output."""
    forked_at = time.monotonic()
    folder = f"{sandbox.WORK_IN_SANDBOX}/{int(job['job'])}"
    limits = spec["limits"]
    uid = gid = int(job["uid"])
    folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)  # the job folder stays reachable once /sandbox is covered
    answers_out = open(f"{folder}/answers.jsonl", "wb")
    with open(f"{folder}/submission.ipynb", "rb") as handle:
        notebook_bytes = handle.read()
    _unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)
    flags = sandbox.MS_NOSUID | sandbox.MS_NODEV
    sandbox._mount("tmpfs", sandbox.WORK_IN_SANDBOX, "tmpfs", flags, f"size={spec['tmp_mib']}m,mode=700,uid={uid},gid={gid}")
    # A private /tmp; an environment or kit that lives under the host's /tmp is bound on top of it again.
    under_tmp = sorted(path for path in spec["readonly"] if path.startswith("/tmp/") and os.path.exists(path))
    held = {path: os.open(path, os.O_PATH) for path in under_tmp}
    sandbox._mount("tmpfs", "/tmp", "tmpfs", flags, f"size={spec['tmp_mib']}m,mode=1777")
    for path, descriptor in held.items():
        sandbox._bind_readonly(f"/proc/self/fd/{descriptor}", path)
        os.close(descriptor)
    sandbox._mount("tmpfs", "/dev/shm", "tmpfs", flags, "size=64m,mode=1777")
    os.mkdir(f"{sandbox.WORK_IN_SANDBOX}/home")
    with open(f"{sandbox.WORK_IN_SANDBOX}/submission.ipynb", "wb") as copy:
        copy.write(notebook_bytes)
    for path in ("home", "submission.ipynb"):
        os.chown(f"{sandbox.WORK_IN_SANDBOX}/{path}", uid, gid)
    read_end, write_end = os.pipe()
    runner = os.fork()
    if runner == 0:
        os.close(read_end)
        answers_out.close()
        code = 2
        try:
            code = run_notebook(notebook_bytes, write_end, job, spec, shell, forked_at)
        finally:
            os._exit(code)
    os.close(write_end)
    outcome = _watch(runner, read_end, answers_out, limits)
    cell = outcome["cell"] if outcome["cell"] is not None else 0
    if outcome["timed_out"] == "cell":
        reason = sandbox.CELL_TIMEOUT_REASON.format(cell=cell, seconds=limits["cell_seconds"])
    elif outcome["exit"] != 0 or not outcome["ended"]:
        reason = sandbox.KERNEL_DIED_REASON.format(cell=cell)
    else:
        reason = None
    if reason is not None:  # the last end line is the one that counts, so the runner cannot have the last word
        answers_out.write(json.dumps({"event": "end", "status": "partial", "reason": reason}).encode() + b"\n")
    answers_out.close()
    status = os.open("status.json.tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600, dir_fd=folder_fd)
    with os.fdopen(status, "w") as stream:
        json.dump(outcome, stream)
    os.replace("status.json.tmp", "status.json", src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
    return 0


def _watch(runner: int, read_end: int, answers_out, limits: dict) -> dict:
    """Copy the runner's lines (up to the output cap), stop it past a cell's or the notebook's wall time."""
    started = time.monotonic()
    cell_started, cell, timed_out, ended = started, None, None, False
    cap, written, pending = limits["output_kib"] * 1024 + 1, 0, b""
    open_pipe = True
    while True:
        now = time.monotonic()
        if now - started > limits["wall_seconds"]:
            timed_out = "wall"
        elif cell is not None and now - cell_started > limits["cell_seconds"]:
            timed_out = "cell"
        if timed_out:
            os.kill(runner, signal.SIGKILL)  # PID 1 of its namespace: everything it started dies with it
            break
        if open_pipe:
            ready, _, _ = select.select([read_end], [], [], 0.05)
            if ready:
                chunk = os.read(read_end, 1 << 16)
                if not chunk:
                    open_pipe = False
                else:
                    if written < cap:
                        answers_out.write(chunk[:cap - written])
                        written += min(len(chunk), cap - written)
                    *lines, pending = (pending + chunk).split(b"\n")
                    pending = pending[-4096:]  # a cell's event line is short; an answer's tail is not needed
                    for line in lines:
                        ended = ended or line.startswith(b'{"event": "end"')
                        if line.startswith(b'{"event": "cell"'):
                            try:
                                cell, cell_started = json.loads(line)["cell"], time.monotonic()
                            except (ValueError, KeyError, TypeError):
                                pass
                continue
        else:
            time.sleep(0.02)
        finished, status, usage = os.wait4(runner, os.WNOHANG)
        if finished:
            return {"exit": _exit_code(status), "timed_out": None, "cell": cell, "ended": ended,
                    "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3)}
    _, status, usage = os.wait4(runner, 0)
    return {"exit": _exit_code(status), "timed_out": timed_out, "cell": cell, "ended": ended,
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3)}


def _exit_code(status: int) -> int:
    return os.waitstatus_to_exitcode(status)


def _part(source: str) -> str:
    """Which part of a notebook's work a cell is, for the benchmark's breakdown (by what the cell calls)."""
    if any(call in source for call in ("lab.check(", "lab.deploy(", "lab.verdict(", "lab.hint(")):
        return "kit"
    if any(call in source for call in ("plots", "plt.", "sns.", ".plot(")):
        return "figures"
    if any(call in source for call in ("Lab(", "lab.load(")):
        return "data"
    return "student's computation"


def run_notebook(notebook_bytes: bytes, fd: int, job: dict, spec: dict, shell, forked_at: float) -> int:
    """In the runner (PID 1 of fresh namespaces): limit, drop root, run each cell, stream the answers."""
    answers = sandbox._Answers(fd)
    try:
        sandbox._mount("proc", "/proc", "proc", sandbox.MS_NOSUID | sandbox.MS_NODEV | sandbox.MS_NOEXEC)
        os.chdir(sandbox.WORK_IN_SANDBOX)
        sandbox.apply_limits(spec["limits"])
        sandbox.drop_privileges(int(job["uid"]), int(job["uid"]))
        os.closerange(3, fd)
        os.closerange(fd + 1, 1 << 16)
        null = os.open(os.devnull, os.O_RDWR)
        for target in (0, 1, 2):
            os.dup2(null, target)
        os.close(null)
    except Exception as error:  # the machine, not the notebook: the grader stops rather than record a zero
        answers.write({"event": "sandbox-failed", "reason": f"{type(error).__name__}: {error}"[:300]})
        return 2
    os.environ["HOME"] = f"{sandbox.WORK_IN_SANDBOX}/home"
    answers.write({"event": "started", "time": time.time()})
    import nbformat

    from aipmlab.grader import extract

    sink = open(os.devnull, "w")
    sys.stdin, sys.stdout, sys.stderr = open(os.devnull), sink, sink
    sys.argv = ["ipykernel_launcher.py"]
    notebook = nbformat.reads(notebook_bytes.decode("utf-8"), as_version=4)
    keys = spec["keys"][job["module"]]
    parts = {"floor": time.monotonic() - forked_at} if spec.get("profile") else None
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        position = cell.get("metadata", {}).get("aipmlab_position", index + 1)
        answers.write({"event": "cell", "cell": position})
        started = time.process_time()
        shell.run_cell(cell.source, store_history=True)
        _close_figures()
        if parts is not None:
            part = _part(cell.source)
            parts[part] = parts.get(part, 0.0) + time.process_time() - started
        if shell.exit_now:
            answers.write({"event": "end", "status": "partial", "reason": sandbox.EXIT_REASON.format(cell=position)})
            return 0
        if cell.source.strip():
            started = time.process_time()
            found, _unreadable = extract.answers_of(shell.user_ns, keys)
            answers.snapshot(position, found)
            if parts is not None:
                parts["answers read"] = parts.get("answers read", 0.0) + time.process_time() - started
    if parts is not None:
        answers.write({"event": "profile", **{name: round(seconds, 4) for name, seconds in parts.items()}})
    answers.write({"event": "end", "status": "graded", "reason": ""})
    return 0


def _close_figures() -> None:
    """After each cell, as JupyterLab's inline backend does: the cell's figures are shown (here: not drawn) and closed."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        try:
            pyplot.close("all")
        except Exception:
            pass


# --- The parent's loop ------------------------------------------------------------------------------------------

def serve(spec: dict, shell) -> None:
    """Fork a supervisor for each job read on stdin; say when each is done; stop at end of input."""
    running: dict[int, int] = {}
    stdin = sys.stdin.buffer
    buffered = b""
    open_input = True
    while open_input or running:
        if open_input:
            ready, _, _ = select.select([stdin], [], [], 0.01)
            if ready:
                chunk = os.read(stdin.fileno(), 1 << 16)
                if not chunk:
                    open_input = False
                buffered += chunk
                *lines, buffered = buffered.split(b"\n")
                for line in lines:
                    job = json.loads(line)
                    pid = os.fork()
                    if pid == 0:
                        code = 3
                        try:
                            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                            code = supervise(job, spec, shell)
                        except BaseException:
                            traceback.print_exc()
                        finally:
                            os._exit(code)
                    running[pid] = int(job["job"])
        else:
            time.sleep(0.01)
        while running:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            job_number = running.pop(pid, None)
            if job_number is not None:
                _reply({"job": job_number, "done": True, "exit": _exit_code(status)})


def main(argv: list[str]) -> int:
    """Enter the jail, import and warm up, say ready, then serve jobs until stdin closes."""
    spec = json.loads(argv[1])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        enter_jail(spec)
        import_libraries()
        shell = make_shell()
        _quiet_figures()
        warmed = {name: warm_up(shell, path) for name, path in spec["warm"]}
        import gc

        gc.collect()
        gc.freeze()  # children share these pages; the collector no longer touches (and so copies) them
    except Exception as error:
        traceback.print_exc()
        _reply({"ready": False, "reason": f"{type(error).__name__}: {error}"[:300]})
        return 2
    import threading

    # Forking copies only the calling thread; with one thread there is no lock another thread could hold.
    _reply({"ready": True, "warm_seconds": warmed, "threads": threading.active_count()})
    serve(spec, shell)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
