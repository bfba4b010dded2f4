"""Shared fixtures: the course map and the data seeds every notebook-level test runs on."""

from __future__ import annotations

from pathlib import Path

import tempfile

import pytest

ROOT = Path(__file__).resolve().parent.parent
OTHER_SEEDS = (7, 31337)  # besides each dataset's canonical seed


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def ipc_kernel_prefix() -> str:
    """A short path prefix for kernel sockets. Tests start kernels over local IPC, not TCP: when two
    test workers start kernels at once, a TCP port picked by one can be taken by the other first."""
    return str(Path(tempfile.mkdtemp(prefix="aipmlab-k")) / "kernel")


def write_course_config(course_dir: Path, *lines: str) -> None:
    """An nbgrader_config.py for a throwaway course: the kit's configuration, rooted at `course_dir`, plus `lines`."""
    from aipmlab import paths

    (course_dir / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"load_subconfig({str(paths.grading_dir() / 'nbgrader_config.py')!r})\n"
        f"c.CourseDirectory.root = {str(course_dir)!r}\n" + "".join(f"{line}\n" for line in lines))


def computed_once(tmp_path_factory, worker_id: str, name: str, compute):
    """`compute()` run by one test worker per session, its (pickled) result shared with the others through files.
    A module whose tests xdist spreads over two workers would otherwise build its costly fixture twice. A skip
    or failure in `compute` is passed on to the workers waiting for it."""
    import os
    import pickle
    import time

    base = tmp_path_factory.getbasetemp()
    store = (base.parent if worker_id != "master" else base) / "computed-once"
    store.mkdir(exist_ok=True)
    done, failed = store / f"{name}.pickle", store / f"{name}.failed"
    try:
        os.close(os.open(store / f"{name}.claim", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:  # another worker computes it: wait for its result
        deadline = time.monotonic() + 1800
        while not done.exists():
            if failed.exists():
                kind, _, reason = failed.read_text().partition("\n")
                (pytest.skip if kind == "skip" else pytest.fail)(f"{name}, computed by another test worker: {reason}")
            assert time.monotonic() < deadline, f"{name} was claimed by another test worker but never computed"
            time.sleep(0.2)
        return pickle.loads(done.read_bytes())
    try:
        value = compute()
    except BaseException as error:
        kind = "skip" if isinstance(error, pytest.skip.Exception) else "fail"
        failed.write_text(f"{kind}\n{type(error).__name__}: {str(error)[:2000]}")
        raise
    partial = done.with_suffix(f".{os.getpid()}.tmp")
    partial.write_bytes(pickle.dumps(value))
    os.replace(partial, done)
    return value
