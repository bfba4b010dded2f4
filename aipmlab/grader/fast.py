"""The fast path: many submissions through one pre-warmed parent that forks a sandboxed child for each.

The plain engine starts a fresh kernel per notebook, and most of its time is that start: the
interpreter and the course's imports (about 2 s here), paid again for every notebook. Here one
parent (see `zygote`) does that once, inside the sandbox's allow-list root, and forks one child per
submission: fresh namespaces, a folder of its own, the engine's limits, a user id of its own, never
reused. Each child sends back only its answers, which are judged here, in the grader's process,
exactly as `engine.grade_notebook` judges them (`engine.judged`). A submission whose notebook uses
what the in-process runner cannot give (an ipykernel-only feature such as widgets or the kernel
object), or a machine where forking into namespaces is not possible, is graded by the plain engine,
with a note in its result saying why.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Iterator, Sequence

from aipmlab.grader.engine import Limits, Submission, SubmissionResult

# What a notebook can ask of a Jupyter kernel that an in-process IPython shell does not have.
KERNEL_ONLY = re.compile(r"ipykernel|ipywidgets|\bcomm\b|get_ipython\(\)\s*\.\s*kernel|%matplotlib\s+"
                         r"(?:widget|ipympl|notebook|nbagg|qt|tk|gtk|osx|wx)|%(?:qtconsole|connect_info)")
WARM_AT_LEAST = 5        # a module and seed shared by this many submissions is warmed up in the parent (it pays
                         # back from about five notebooks: module 02's warm-up costs about four notebooks' kit work)
WARM_AT_MOST = 12        # at most this many (module, seed) pairs are warmed up in one parent
LAST_PARENT: dict = {}    # how the last parent started: its warm-up seconds per module and seed
LAST_PROFILE: dict = {}   # submission id -> seconds per part of its work, when AIPMLAB_FAST_PROFILE=1 (benchmarks)
ISOLATION = ("forked from a pre-warmed parent that holds no answer key; separate mount, PID, network, IPC and UTS "
             "namespaces; chroot into an allow-list root (system, Python, environment, aipmlab, public data; "
             "read-only); runs as an unprivileged user id of its own; no network; memory, CPU, file-size and process "
             "limits; wall-time limits")


@dataclass
class _Job:
    number: int
    submission: Submission
    key_module: Any
    fingerprint: str
    digest: str
    started: float


def fork_available() -> bool:
    """True where the fast path can isolate a child as the engine does: Linux, root, namespaces."""
    from aipmlab.grader import execute

    return sys.platform.startswith("linux") and hasattr(os, "fork") and execute.namespaces_available()


def kernel_only_feature(notebook: Any) -> str | None:
    """What the notebook asks of a Jupyter kernel that the fast path's shell cannot give, or None."""
    for position, cell in enumerate(notebook.cells, start=1):
        if cell.cell_type == "code":
            found = KERNEL_ONLY.search(cell.source)
            if found:
                return f"cell {position} uses `{found.group(0)}`"
    return None


def grade_many(submissions: Sequence[Submission], limits: Limits = Limits(), *, workers: int | None = None,
               allow_unisolated: bool = False, kept: KeptParent | None = None) -> Iterator[SubmissionResult]:
    """Grade every submission, yielding each result as it finishes (in any order); `workers` children at a time
    (default: the cores), forked from `kept`'s parent when given (else one started for this call). Results equal
    `engine.grade_notebook`'s; what the fork path cannot honour goes there."""
    from aipmlab import course
    from aipmlab.grader import engine, execute, extract, record

    keys = record.answer_keys(submissions)  # fails before grading anything when a key is missing
    execute.isolation(allow_unisolated)
    if not fork_available():
        note = "graded by the plain engine: forking into namespaces needs Linux, root and util-linux `unshare`."
        for submission in submissions:
            yield _plain(submission, limits, allow_unisolated, note)
        return
    jobs, fallbacks, notebooks = [], [], {}
    for submission in submissions:
        started = time.monotonic()
        slug = course.module(submission.module).slug
        key_module, fingerprint, _ = keys[slug]
        try:
            digest = engine.notebook_sha256(submission.notebook)
            notebook = extract.read_submission(submission.notebook)
        except (OSError, extract.MalformedNotebook):  # the engine words these results; it reads nothing more
            fallbacks.append((submission, ""))
            continue
        feature = kernel_only_feature(notebook)
        if feature:
            fallbacks.append((submission, f"graded by the plain engine: {feature}, which needs a Jupyter kernel."))
            continue
        job = _Job(len(jobs) + 1, replace(submission, module=slug), key_module, fingerprint, digest, started)
        notebooks[job.number] = execute.parameterize(notebook, submission.seed)
        jobs.append(job)
    if jobs:
        yield from _fork_all(jobs, notebooks, keys, limits, workers or os.cpu_count() or 1, kept)
    for submission, note in fallbacks:
        yield _plain(submission, limits, allow_unisolated, note)


def _plain(submission: Submission, limits: Limits, allow_unisolated: bool, note: str) -> SubmissionResult:
    """The plain engine's result, with the note saying why it graded this one; a bug never stops the batch."""
    from aipmlab.grader import record

    result = record.graded_by_engine(submission, limits, allow_unisolated)
    result.note = note
    return result


@dataclass
class _Parent:
    """A started pre-warmed parent: its process, its host folder and job folder, what it can serve."""

    process: subprocess.Popen
    host: Path
    folder: Path
    modules: frozenset
    limits: Limits
    jobs_sent: int = 0


class KeptParent:
    """One pre-warmed parent kept from one call of `grade_many` to the next (a Dask worker grades batch after batch),
    so its start-up is paid once. A batch that needs other modules or limits, or finds it dead, starts another; a
    batch that stops half-way closes it (its children may still run). One batch at a time uses it; a second batch
    at the same time gets a parent of its own. It dies with the thread that started it (see `execute`)."""

    def __init__(self) -> None:
        import threading

        self._parent: _Parent | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        """Stop the kept parent, if any (and remove its folder)."""
        with self._lock:
            if self._parent is not None:
                _close_parent(self._parent)
                self._parent = None


@contextlib.contextmanager
def _parent_for(jobs: list[_Job], keys: dict, limits: Limits, kept: KeptParent | None) -> Iterator[_Parent]:
    """A parent that serves these jobs: the kept one when it can (started when needed), else one for this batch."""
    if kept is None or not kept._lock.acquire(blocking=False):
        parent = _open_parent(jobs, keys, limits)
        try:
            yield parent
        finally:
            _close_parent(parent)
        return
    try:
        parent = kept._parent
        if parent is None or parent.process.poll() is not None or not set(keys) <= parent.modules \
                or parent.limits != limits:
            if parent is not None:
                _close_parent(parent)
            kept._parent = None
            parent = kept._parent = _open_parent(jobs, keys, limits)
        served = False
        try:
            yield parent
            served = True
        finally:
            if not served:  # stopped half-way: jobs may still run in it, so the next batch gets a fresh one
                _close_parent(parent)
                kept._parent = None
    finally:
        kept._lock.release()


def _open_parent(jobs: list[_Job], keys: dict, limits: Limits) -> _Parent:
    """A host folder and a parent started in it, warmed up for what these jobs share."""
    from aipmlab.grader import execute

    host = execute._fresh_host_folder()
    try:
        root, folder = host / "root", host / "jobs"
        root.mkdir()
        folder.mkdir(mode=0o700)
        warm = _warm_ups(jobs, folder)
        process = _start_parent(host, root, folder, keys, limits, warm)
    except BaseException:
        _remove_host(host)
        raise
    return _Parent(process, host, folder, frozenset(keys), limits)


def _close_parent(parent: _Parent) -> None:
    _stop(parent.process)
    _remove_host(parent.host)


def _remove_host(host: Path) -> None:
    if os.environ.get("AIPMLAB_GRADER_KEEP_SANDBOX") != "1":
        shutil.rmtree(host, ignore_errors=True)


def _fork_all(jobs: list[_Job], notebooks: dict[int, Any], keys: dict, limits: Limits, workers: int,
              kept: KeptParent | None = None) -> Iterator[SubmissionResult]:
    """Run the jobs through one pre-warmed parent, `workers` at a time, and judge each as it finishes."""
    import nbformat

    from aipmlab.grader import execute, record

    with _parent_for(jobs, keys, limits, kept) as parent:
        first = parent.jobs_sent  # a kept parent's job numbers go on from its earlier batches
        parent.jobs_sent += len(jobs)
        for job in jobs:
            (parent.folder / str(first + job.number)).mkdir(mode=0o700)
            nbformat.write(notebooks.pop(job.number), parent.folder / str(first + job.number) / "submission.ipynb")
        waiting, running = list(jobs), {}
        while waiting or running:
            while waiting and len(running) < workers:
                job = waiting.pop(0)
                job.started = time.monotonic()
                uid = execute.SANDBOX_UID_BASE + secrets.randbelow(execute.SANDBOX_UID_SPAN)
                parent.process.stdin.write(json.dumps({"job": first + job.number, "uid": uid,
                                                       "module": job.submission.module}).encode() + b"\n")
                parent.process.stdin.flush()
                running[first + job.number] = job
            line = parent.process.stdout.readline()
            if not line:
                raise execute.SandboxFailed("The fast path's parent stopped unexpectedly; nothing more was graded "
                                            f"({_log_tail(parent.host)}).")
            number = int(json.loads(line)["job"])
            job = running.pop(number)
            try:
                result = _judge_job(job, parent.folder / str(number), keys, limits, parent.host)
            except execute.SandboxFailed:
                raise
            except Exception as error:  # a bug or an odd answer must not stop everyone after it
                result = record.internal_failure(job.submission, error)
            yield result
            shutil.rmtree(parent.folder / str(number), ignore_errors=True)


def _warm_ups(jobs: list[_Job], folder: Path) -> list[tuple[str, str]]:
    """The public releases to run once in the parent: each module and seed that several submissions share."""
    import nbformat

    from aipmlab import course, paths
    from aipmlab.grader import execute

    shared = Counter((job.submission.module, job.submission.seed) for job in jobs)
    chosen = [pair for pair, count in shared.most_common(WARM_AT_MOST) if count >= WARM_AT_LEAST]
    (folder / "warm").mkdir(mode=0o700)
    warm = []
    for slug, seed in chosen:
        module = course.module(slug)
        release = paths.release_dir() / slug / module.notebook_name
        if not release.exists():
            continue
        name = f"{slug}-{seed}"
        notebook = execute.parameterize(nbformat.read(release, as_version=4), seed)
        nbformat.write(notebook, folder / "warm" / f"{name}.ipynb")
        warm.append((name, f"/sandbox/warm/{name}.ipynb"))
    return warm


def _start_parent(host: Path, root: Path, folder: Path, keys: dict, limits: Limits, warm: list) -> subprocess.Popen:
    """Start the pre-warmed parent in its namespaces and wait until it has imported and warmed up."""
    from aipmlab.grader import execute

    kit = execute._kit_paths()
    environment = dict(execute.SANDBOX_ENVIRONMENT, HOME="/sandbox/home", PYTHONPATH="/kit")
    spec = {"mode": "namespaces", "root": str(root), "work": str(folder), "readonly": execute._readonly_paths(),
            "kit": kit, "tmp_mib": 512, "environment": environment, "limits": asdict(limits),
            "keys": {slug: entry[2] for slug, entry in keys.items()}, "warm": warm,
            "profile": os.environ.get("AIPMLAB_FAST_PROFILE") == "1"}
    launcher = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONPATH": str(Path(kit["/kit/aipmlab"]).parent),
                **{name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}}
    command = ["unshare", "--mount", "--net", "--pid", "--ipc", "--uts", "--fork", "--kill-child", sys.executable,
               "-m", "aipmlab.grader.zygote", json.dumps(spec)]
    log = open(host / "parent.log", "wb")
    parent = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=launcher,
                              start_new_session=True, cwd=str(host), preexec_fn=execute._die_with_parent)
    log.close()
    _prepare_references(keys, warm)  # the grader's own work, meanwhile: each shared seed's references, once
    ready = parent.stdout.readline()
    answer = json.loads(ready) if ready.strip() else {"ready": False, "reason": _log_tail(host)}
    LAST_PARENT.clear()
    LAST_PARENT.update(answer)
    if not answer.get("ready"):
        _stop(parent)
        raise execute.SandboxFailed(f"The fast path's parent could not start on this machine ({answer.get('reason')}); "
                                    "nothing was graded.")
    return parent


def _prepare_references(keys: dict, warm: list) -> None:
    """Compute the answer key's references for each warmed module and seed, in this (the grader's) process."""
    from aipmlab import course
    from aipmlab.grader import judge

    for name, _path in warm:
        slug, seed = name.rsplit("-", 1)
        module = course.module(slug)
        for exercise in module.exercises:
            if exercise.compare is not None:
                judge.reference(keys[slug][0], module, exercise, int(seed))


def _log_tail(host: Path) -> str:
    try:
        return " ".join((host / "parent.log").read_text(errors="replace").split()[-30:]) or "no log"
    except OSError:
        return "no log"


def _stop(parent: subprocess.Popen) -> None:
    """Close the parent's input and kill its whole namespace (every child in it dies with it)."""
    from aipmlab.grader import execute

    try:
        parent.stdin.close()
        parent.wait(timeout=5)  # it stops by itself once its input is closed and its children are done
    except (OSError, subprocess.TimeoutExpired):
        pass
    execute._kill_group(parent)


def _judge_job(job: _Job, folder: Path, keys: dict, limits: Limits, host: Path) -> SubmissionResult:
    """The child's answers and how it ended, judged here exactly as the engine judges them."""
    from aipmlab.grader import engine, execute

    try:
        outcome = json.loads((folder / "status.json").read_text())
    except (OSError, ValueError):
        raise execute.SandboxFailed("A child of the fast path could not be set up on this machine; nothing more "
                                    f"was graded ({_log_tail(host)}).") from None
    slug_keys = keys[job.submission.module][2]
    run = execute.read_run(folder / "answers.jsonl", slug_keys, limits, outcome.get("timed_out") == "wall",
                           outcome.get("exit"))
    judging = time.process_time()
    result = engine.judged(job.submission, run, job.key_module, job.digest, ISOLATION, job.fingerprint, job.started)
    if os.environ.get("AIPMLAB_FAST_PROFILE") == "1":
        LAST_PROFILE[job.submission.submission_id] = dict(_profile_of(folder / "answers.jsonl"),
                                                          **{"judging (grader)": time.process_time() - judging})
    return result


def _profile_of(answers: Path) -> dict[str, float]:
    """The timings a child reports when profiling (the benchmark's breakdown)."""
    for line in reversed(answers.read_bytes().splitlines()):
        if line.startswith(b'{"event": "profile"'):
            return {name: value for name, value in json.loads(line).items() if name != "event"}
    return {}
