"""Where trials run: this process, a pool of local processes, or a Ray cluster.

All three offer one call, ``map_unordered(specs)``, yielding ``(index, result)`` as each trial finishes, so the
caller can commit every result the moment it exists. A trial that raises or whose worker dies is retried a
bounded number of times and then comes back as a failed result with the reason; the batch always completes.

Every executor runs a trial with the same number of torch threads (``threads_per_trial``, default 1): CPU
kernels sum in a different order with another thread count, and a search must give the same numbers whichever
executor ran it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any

from ..errors import BadInputError
from .trial import TrialResult, TrialSpec, evaluate

log = logging.getLogger(__name__)

TrialFn = Callable[[TrialSpec], TrialResult]

#: Extra attempts after the first for a trial that raises or whose worker dies.
DEFAULT_RETRIES = 2
RAY_ADDRESS_HELP = "use 'local' (start one here), 'auto' (the cluster this machine joined) or HOST:PORT"


class Executor(ABC):
    """Runs trial functions; ``fn`` must be a picklable top-level function (the default: ``evaluate``)."""

    def __init__(self, fn: TrialFn = evaluate, retries: int = DEFAULT_RETRIES, threads_per_trial: int = 1) -> None:
        if retries < 0:
            raise BadInputError(f"retries must be 0 or more, got {retries}")
        if threads_per_trial < 1:
            raise BadInputError(f"threads per trial must be 1 or more, got {threads_per_trial}")
        self.fn = fn
        self.retries = retries
        self.threads_per_trial = threads_per_trial

    @abstractmethod
    def map_unordered(self, specs: Sequence[TrialSpec]) -> Iterator[tuple[int, TrialResult]]:
        """Yield ``(index into specs, result)`` for every spec, in the order trials finish."""

    def close(self) -> None:
        """Release workers; the executor cannot be used afterwards."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _gave_up(self, spec: TrialSpec, reason: str) -> TrialResult:
        attempts = self.retries + 1
        log.warning("trial %s failed after %d attempt(s): %s", spec.key(), attempts, reason)
        return TrialResult(spec.key(), "failed", error=f"{reason} (after {attempts} attempt(s))")


class SerialExecutor(Executor):
    """Trials one after another in this process: the reference every other executor must match."""

    def map_unordered(self, specs: Sequence[TrialSpec]) -> Iterator[tuple[int, TrialResult]]:
        for index, spec in enumerate(specs):
            yield index, self._run_one(spec)

    def _run_one(self, spec: TrialSpec) -> TrialResult:
        reason = ""
        for attempt in range(self.retries + 1):
            try:
                with torch_threads(self.threads_per_trial):
                    return self.fn(spec)
            except Exception as exc:  # a trial function that raises is retried, then recorded as failed
                reason = _describe(exc)
                log.info("trial %s attempt %d raised %s", spec.key(), attempt + 1, reason)
        return self._gave_up(spec, reason)


class PoolExecutor(Executor):
    """Trials in ``workers`` local processes, forked from a clean server process that has imported torch.

    'forkserver' rather than 'fork' (this process may run torch threads, which do not survive a fork) and
    rather than 'spawn' (which imports torch again in every worker: seconds each).

    A worker that dies breaks the whole pool, and every trial in flight fails with it. Trials that were in
    flight together are then run again one at a time, so a death is charged only to the trial that caused it.
    """

    def __init__(
        self,
        workers: int,
        fn: TrialFn = evaluate,
        retries: int = DEFAULT_RETRIES,
        threads_per_trial: int = 1,
    ) -> None:
        super().__init__(fn, retries, threads_per_trial)
        if workers < 1:
            raise BadInputError(f"--workers must be 1 or more, got {workers}")
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def map_unordered(self, specs: Sequence[TrialSpec]) -> Iterator[tuple[int, TrialResult]]:
        pending: deque[int] = deque(range(len(specs)))
        failures = [0] * len(specs)
        alone: set[int] = set()  # suspects of a worker death: they run with nothing else in flight
        in_flight: dict[Future[TrialResult], int] = {}
        finished = False
        try:
            while pending or in_flight:
                self._fill(specs, pending, alone, in_flight)
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                if any(isinstance(f.exception(), BrokenProcessPool) for f in done):
                    done, _ = wait(in_flight)  # the others fail too, or finished before the death
                    self._discard_pool()
                lost = [in_flight[f] for f in done if isinstance(f.exception(), BrokenProcessPool)]
                for future in done:
                    index = in_flight.pop(future)
                    error = future.exception()
                    if error is None:
                        yield index, future.result()
                        continue
                    if isinstance(error, BrokenProcessPool):
                        if len(lost) > 1:
                            alone.add(index)  # cannot tell which one died: retry each alone, uncharged
                            pending.appendleft(index)
                            continue
                        reason = "worker process died (killed, or out of memory)"
                    else:
                        reason = _describe(error)
                    failures[index] += 1
                    if failures[index] > self.retries:
                        yield index, self._gave_up(specs[index], reason)
                    else:
                        pending.appendleft(index)
            finished = True
        finally:
            if not finished:  # interrupted or abandoned: stop the trials still running
                self._discard_pool()

    def _fill(
        self,
        specs: Sequence[TrialSpec],
        pending: deque[int],
        alone: set[int],
        in_flight: dict[Future[TrialResult], int],
    ) -> None:
        """Keep ``workers`` trials in flight, but a suspect of a worker death only on its own."""
        if any(index in alone for index in in_flight.values()):
            return
        while pending and len(in_flight) < self.workers:
            index = pending[0]
            if index in alone and in_flight:
                return
            pending.popleft()
            in_flight[self._submit(specs[index])] = index
            if index in alone:
                return

    def _submit(self, spec: TrialSpec) -> Future[TrialResult]:
        try:
            return self._ensure_pool().submit(self.fn, spec)
        except BrokenProcessPool:  # an idle worker died since the last batch: start afresh
            self._discard_pool()
            return self._ensure_pool().submit(self.fn, spec)

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=_forkserver(self.fn),
                initializer=_init_worker,
                initargs=(self.threads_per_trial,),
            )
        return self._pool

    def _discard_pool(self) -> None:
        """Stop the pool now, killing trials still running (a plain shutdown would wait for them)."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        processes = list(getattr(pool, "_processes", {}).values())  # no public handle before Python 3.14
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.kill()
        for process in processes:
            process.join(timeout=5)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


class RayExecutor(Executor):
    """Trials as Ray tasks on a cluster: ``local`` starts one in this process, ``auto`` or HOST:PORT joins one.

    Ray re-runs a task whose worker died or that raised up to ``retries`` times; after that the trial is
    recorded as failed. Nodes of a remote cluster need shrinknas installed.
    """

    def __init__(
        self,
        address: str = "local",
        fn: TrialFn = evaluate,
        retries: int = DEFAULT_RETRIES,
        threads_per_trial: int = 1,
        num_cpus: int | None = None,
    ) -> None:
        super().__init__(fn, retries, threads_per_trial)
        if address not in ("local", "auto") and not _is_host_port(address):
            raise BadInputError(f"--ray-address {address!r} is not understood; {RAY_ADDRESS_HELP}")
        self.address = address
        self.num_cpus = num_cpus
        self._ray = _import_ray()
        self._started_here = False
        self._task: Any = None

    def _connect(self) -> Any:
        """Start or join the cluster on first use: a resumed run whose trials are all stored never needs one."""
        if self._task is not None:
            return self._task
        ray = self._ray
        if not ray.is_initialized():
            options: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
            if self.address == "local":  # never fewer CPUs than one trial asks for: it could not be scheduled
                options["num_cpus"] = max(self.num_cpus or os.cpu_count() or 1, self.threads_per_trial)
            try:
                ray.init(address=self.address, **options)
            except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                hint = RAY_ADDRESS_HELP
                if _is_host_port(self.address) and "RAY_AUTH_MODE" not in os.environ:
                    hint += "; a cluster with token authentication also needs RAY_AUTH_MODE=token and its token"
                raise BadInputError(f"cannot reach a Ray cluster at {self.address!r} ({first}); {hint}") from None
            self._started_here = True
        self._task = ray.remote(_call_with_threads).options(
            num_cpus=self.threads_per_trial, max_retries=self.retries, retry_exceptions=True
        )
        return self._task

    def map_unordered(self, specs: Sequence[TrialSpec]) -> Iterator[tuple[int, TrialResult]]:
        if not specs:
            return
        ray, task = self._ray, self._connect()
        refs = {task.remote(self.fn, spec, self.threads_per_trial): i for i, spec in enumerate(specs)}
        try:
            while refs:
                ready, _ = ray.wait(list(refs), num_returns=1)
                for ref in ready:
                    index = refs.pop(ref)
                    try:
                        result = ray.get(ref)
                    except ray.exceptions.RayTaskError as exc:
                        result = self._gave_up(specs[index], _describe(exc.cause) if exc.cause else str(exc))
                    except ray.exceptions.RayError as exc:  # the worker or its node died each time
                        result = self._gave_up(specs[index], f"Ray worker died: {type(exc).__name__}")
                    yield index, result
        finally:
            for ref in refs:  # interrupted or abandoned: do not leave trials running on the cluster
                try:
                    ray.cancel(ref, force=True)
                except Exception:  # already finished or gone: nothing to stop
                    log.debug("could not cancel %s", ref, exc_info=True)

    def close(self) -> None:
        if self._started_here and self._ray.is_initialized():
            self._ray.shutdown()
        self._started_here = False
        self._task = None


def make_executor(
    kind: str | None = None,
    workers: int = 1,
    ray_address: str = "local",
    fn: TrialFn = evaluate,
    retries: int = DEFAULT_RETRIES,
    threads_per_trial: int = 1,
) -> Executor:
    """The executor the CLI flags ask for: ``serial``, ``pool`` or ``ray``; by default pool when workers > 1.

    For a local Ray cluster ``workers`` caps its CPUs (default: all of this machine's).
    """
    if workers < 1:
        raise BadInputError(f"--workers must be 1 or more, got {workers}")
    kind = kind or ("pool" if workers > 1 else "serial")
    if kind == "serial":
        if workers > 1:
            raise BadInputError("--executor serial runs one trial at a time; drop --workers or use --executor pool")
        return SerialExecutor(fn, retries, threads_per_trial)
    if kind == "pool":
        return PoolExecutor(workers, fn, retries, threads_per_trial)
    if kind == "ray":
        return RayExecutor(ray_address, fn, retries, threads_per_trial, num_cpus=workers if workers > 1 else None)
    raise BadInputError(f"unknown executor {kind!r}; expected serial, pool or ray")


def _forkserver(fn: TrialFn) -> multiprocessing.context.BaseContext:
    """The 'forkserver' context, its server preloading what every trial imports (seconds per worker otherwise).

    ``torch._dynamo`` is what torch imports on a process's first optimizer; a module that is missing is skipped.
    Preloading takes effect when the server starts, i.e. with the first pool of this process.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["torch", "torch._dynamo", fn.__module__])
    return context


def _init_worker(threads: int) -> None:
    """Pool workers leave Ctrl-C to the parent, which stops them, and end when the parent is killed."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:  # nothing else ends a worker whose parent got SIGKILL: it would wait forever
        threading.Thread(target=_exit_with, args=(parent,), daemon=True, name="parent-watch").start()
    import torch

    torch.set_num_threads(threads)


def _exit_with(parent: multiprocessing.process.BaseProcess) -> None:
    parent.join()
    os._exit(1)


def _call_with_threads(fn: TrialFn, spec: TrialSpec, threads: int) -> TrialResult:
    import torch

    torch.set_num_threads(threads)
    return fn(spec)


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _import_ray() -> Any:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # never phone home
    try:
        import ray
    except ImportError:
        raise BadInputError("--executor ray needs Ray: pip install 'shrinknas[ray]'") from None
    return ray


def _is_host_port(address: str) -> bool:
    host, _, port = address.rpartition(":")
    return bool(host) and port.isdigit()


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def evaluate_with(executor: Executor) -> Callable[..., list[TrialResult]]:
    """An executor as a search loop's ``evaluate_many``: results in spec order, ``on_result`` as each finishes.

    With no store behind it: for tests, benchmarks and scripts that want a search without a run directory.
    """

    def evaluate_many(
        specs: Sequence[TrialSpec], on_result: Callable[[int, TrialResult], None] | None = None
    ) -> list[TrialResult]:
        results: list[TrialResult | None] = [None] * len(specs)
        for index, result in executor.map_unordered(specs):
            results[index] = result
            if on_result is not None:
                on_result(index, result)
        return results  # type: ignore[return-value]

    return evaluate_many


#: Trials one after another in this process, nothing stored.
evaluate_serially = evaluate_with(SerialExecutor())
