"""Grade on a Dask cluster, for a cohort that has outgrown one machine.

Dask's distributed scheduler hands out the work; nothing here schedules, retries or moves data by
itself. The grader (the process that calls `grade_on_cluster`) reads each handed-in notebook and
sends its *bytes*, so a worker on another machine never needs the grader's disk. Each Dask worker
process grades its batches with `fast.grade_many` through one pre-warmed parent of its own, started
by its first batch and kept for the next (`fast.KeptParent`), and sends back each result as JSON data.

Where the answer key must be. Judging happens on the worker, in the worker's own process (never in
the child that runs a student's notebook), so every worker machine needs the kit *with* `grading/`:
the same checkout, or the same `AIPMLAB_HOME`. Before grading, a worker compares its answer key's
fingerprint with the grader's and refuses to grade when they differ, so a stale or missing key on
one machine stops the run instead of handing out different grades. The sandbox runs on the worker
too: isolation needs Linux and root there, exactly as on one machine.

Start workers with one thread each (`dask worker ADDRESS --nworkers N --nthreads 1`): a worker
grades one batch at a time, and the cluster's parallelism is its number of worker processes.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterator, Sequence

from aipmlab.grader.engine import Limits, Submission, SubmissionResult

BATCHES_PER_WORKER = 4     # small batches keep every worker busy to the end; larger ones reuse a warm parent more
MOST_PER_BATCH = 8


class AnswerKeyDiffers(RuntimeError):
    """A worker's answer key (or exercise definitions) is not the grader's: its grades would not be comparable."""


def grade_on_cluster(submissions: Sequence[Submission], limits: Limits = Limits(), *, scheduler: str | None = None,
                     workers: int | None = None, allow_unisolated: bool = False) -> Iterator[SubmissionResult]:
    """Yield each submission's result as its batch finishes on Dask: on a local cluster of `workers` processes
    (default: one per core) when `scheduler` is None, else on the cluster at that address."""
    from distributed import Client

    parcels = [_parcel(submission) for submission in submissions]
    if not parcels:
        return
    if scheduler is None:
        cluster = _local_cluster(workers or os.cpu_count() or 1)
        try:
            with Client(cluster) as client:
                yield from _grade_with(client, parcels, limits, allow_unisolated)
        finally:
            cluster.close()
    else:
        with Client(scheduler) as client:
            yield from _grade_with(client, parcels, limits, allow_unisolated)


def _local_cluster(workers: int) -> Any:
    """A LocalCluster of `workers` processes with one thread each, no dashboard and no Dask memory limit (the
    sandbox limits each notebook's memory itself). Workers are not daemons, so a grader in them may fork."""
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.worker.daemon": False}):
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, memory_limit=0,
                            host="127.0.0.1", dashboard_address=None,
                            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})  # a free port, not 8787


def _parcel(submission: Submission) -> dict:
    """What travels to a worker: the notebook's bytes and name, the submission's id, module and seed, and the
    fingerprint of the grader's answer key for that module."""
    from aipmlab import course
    from aipmlab.grader import extract, judge

    module = course.module(submission.module)
    judge.require_answer_key(module)
    try:  # a byte past the engine's limit is enough for the worker to refuse an oversized notebook
        with open(submission.notebook, "rb") as handed_in:
            notebook = handed_in.read(extract.MAX_NOTEBOOK_BYTES + 1)
    except OSError:
        notebook = None  # graded on the worker as unreadable, the way the engine records it
    return {"submission_id": submission.submission_id, "module": module.slug, "seed": submission.seed,
            "notebook_name": Path(submission.notebook).name, "notebook": notebook,
            "fingerprint": judge.answer_key_fingerprint(module)}


def _grade_with(client: Any, parcels: list[dict], limits: Limits, allow_unisolated: bool) -> Iterator[SubmissionResult]:
    """Submit the parcels in batches to `client`'s cluster and yield results as batches finish."""
    from distributed import as_completed
    from distributed.client import FutureCancelledError
    from distributed.scheduler import KilledWorker

    slots = max(1, sum(info.get("nthreads", 1) for info in client.scheduler_info()["workers"].values()))
    size = max(1, min(MOST_PER_BATCH, math.ceil(len(parcels) / (slots * BATCHES_PER_WORKER))))
    batches = [parcels[start:start + size] for start in range(0, len(parcels), size)]
    futures = {client.submit(grade_parcels, batch, asdict(limits), allow_unisolated, pure=False): batch
               for batch in batches}
    try:
        for future in as_completed(futures):
            try:
                rows = future.result()
            except (KilledWorker, FutureCancelledError) as error:  # the worker died, not the submission's doing
                rows = [_internal_failure(parcel, error) for parcel in futures[future]]
            for row in rows:
                yield SubmissionResult.from_json(row)
    finally:
        client.cancel(list(futures))


def grade_parcels(parcels: list[dict], limits: dict, allow_unisolated: bool) -> list[dict]:
    """On a worker: write the notebooks to a private folder and grade them with this process's warm grader."""
    from aipmlab import course
    from aipmlab.grader import execute, judge
    from aipmlab.grader.engine import AnswerKeyMissing, IsolationUnavailable

    for parcel in parcels:
        module = course.module(parcel["module"])
        judge.require_answer_key(module)  # AnswerKeyMissing, naming the path, on a worker without grading/
        if judge.answer_key_fingerprint(module) != parcel["fingerprint"]:
            raise AnswerKeyDiffers(f"This worker's answer key for module {parcel['module']} differs from the "
                                   "grader's; give every worker the same checkout of the kit, grading/ included.")
    grader_limits = Limits(**limits)
    with tempfile.TemporaryDirectory(prefix="aipmlab-dask-") as folder:
        submissions = [_written_out(parcel, Path(folder) / str(index)) for index, parcel in enumerate(parcels)]
        try:
            return [result.to_json() for result in _warm_grader().grade(submissions, grader_limits, allow_unisolated)]
        except (execute.SandboxFailed, AnswerKeyMissing, IsolationUnavailable):
            raise  # this machine cannot grade anyone: stop the run
        except Exception:  # one odd notebook must not take its batch down: grade each on its own
            rows = []
            for parcel, submission in zip(parcels, submissions):
                try:
                    rows += [r.to_json() for r in _warm_grader().grade([submission], grader_limits, allow_unisolated)]
                except (execute.SandboxFailed, AnswerKeyMissing, IsolationUnavailable):
                    raise
                except Exception as error:
                    rows.append(_internal_failure(parcel, error))
            return rows


def _written_out(parcel: dict, folder: Path) -> Submission:
    """The parcel's notebook saved in `folder` on the worker, as a Submission (a missing file when unreadable)."""
    folder.mkdir(parents=True)
    path = folder / (Path(parcel["notebook_name"]).name or "submission.ipynb")
    if parcel["notebook"] is not None:
        path.write_bytes(parcel["notebook"])
    return Submission(parcel["submission_id"], path, parcel["module"], parcel["seed"])


class _WarmGrader:
    """One per worker process: imports the engine once and keeps one pre-warmed parent (`fast.KeptParent`) for
    every batch it grades, so the parent's start-up is paid once per worker, not once per batch."""

    def __init__(self) -> None:
        import atexit

        from aipmlab.grader import fast

        self._grade_many = fast.grade_many
        self._kept = fast.KeptParent()
        atexit.register(self._kept.close)  # a worker that stops normally removes its parent's folder too

    def grade(self, submissions: list[Submission], limits: Limits, allow_unisolated: bool) -> list[SubmissionResult]:
        """Every submission's result, in order, graded one child at a time (the worker has one thread)."""
        return list(self._grade_many(submissions, limits, workers=1, allow_unisolated=allow_unisolated,
                                     kept=self._kept))


_grader_of_this_process: _WarmGrader | None = None


def _warm_grader() -> _WarmGrader:
    """This worker process's grader, made on first use."""
    global _grader_of_this_process
    if _grader_of_this_process is None:
        _grader_of_this_process = _WarmGrader()
    return _grader_of_this_process


def _internal_failure(parcel: dict, error: BaseException) -> dict:
    """A failed result for a submission the cluster could not finish, so the run goes on."""
    from aipmlab import course

    module = course.module(parcel["module"])
    return SubmissionResult(parcel["submission_id"], module.slug, parcel["seed"], "failed",
                            f"the grader could not finish this submission ({type(error).__name__}: "
                            f"{str(error)[:200]}).", [], 0, sum(e.points for e in module.exercises), 0.0, "", "",
                            "").to_json()


def grade_batch_on_cluster(submissions: Sequence[Submission], results_dir: Path, limits: Limits = Limits(), *,
                           scheduler: str | None = None, workers: int | None = None, allow_unisolated: bool = False,
                           progress: bool = True) -> list[SubmissionResult]:
    """Like `engine.grade_batch`: reuse stored results, grade the rest on the cluster, store each as it arrives."""
    from tqdm.auto import tqdm

    from aipmlab import course
    from aipmlab.grader import judge, record

    record.check_own_ids(submissions)
    found: dict[str, SubmissionResult] = {}
    for submission in submissions:
        fingerprint = judge.answer_key_fingerprint(course.module(submission.module))
        stored = record.stored_result(record.result_path(results_dir, submission), submission, fingerprint)
        if stored is not None:
            found[submission.submission_id] = stored
    by_id = {submission.submission_id: submission for submission in submissions}
    to_grade = [submission for submission in submissions if submission.submission_id not in found]
    with tqdm(total=len(to_grade), disable=not progress, unit="notebook", desc="grading on Dask") as bar:
        for result in grade_on_cluster(to_grade, limits, scheduler=scheduler, workers=workers,
                                       allow_unisolated=allow_unisolated):
            record.write_atomically(record.result_path(results_dir, by_id[result.submission_id]), result)
            found[result.submission_id] = result
            bar.update()
    return [found[submission.submission_id] for submission in submissions]
