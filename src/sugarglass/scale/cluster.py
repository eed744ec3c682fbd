"""Where the work runs: a Dask cluster named by the work file or the command line, or a local one.

Every scale-out command goes through ``open_client``: it connects (or starts a local cluster of
one single-threaded worker process per core, since VADER and the society hold the GIL) before
any file is read or any run is started, so a scheduler that cannot be reached is one clear error
and nothing else. ``in_order`` is the one submission pattern both commands use: a bounded window
of tasks in flight, results handed back in submission order, so the client's memory does not
grow with the size of the job and the store is written in file order.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from .config import ClusterError, ScaleConfig, check_address


def scale_settings(work: Any) -> ScaleConfig:
    """The work's ``[scale]`` table, or the defaults while the work file has none."""
    return getattr(work, "scale", None) or ScaleConfig()


@contextmanager
def open_client(address: str | None = None, *, workers: int | None = None, timeout: float = 5.0) -> Iterator[Any]:
    """A ``distributed.Client``: connected to ``address``, or to a local cluster started here
    and shut down on exit. An unreachable scheduler raises ``ClusterError`` within ``timeout``."""
    from distributed import Client, LocalCluster

    if address is not None:
        address = check_address(address)
        try:
            client = Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ClusterError(
                f"cannot reach the Dask scheduler at {address} within {timeout:g} s ({exc}); "
                "start it with `dask scheduler` and its workers with `dask worker ADDRESS`, or leave "
                "--scheduler out to work on this machine"
            ) from None
        with client:
            yield client
        return
    count = workers or os.cpu_count() or 1
    # loopback only, the status page on a free port: a gallery machine's cluster is nobody else's
    with LocalCluster(n_workers=count, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR) as cluster, \
            Client(cluster, set_as_default=False) as client:
        yield client


def worker_threads(client: Any) -> int:
    """How many tasks the cluster runs at once (at least one, even while workers arrive)."""
    return max(1, sum(w["nthreads"] for w in client.scheduler_info(n_workers=-1)["workers"].values()))


def in_order(client: Any, function: Callable, arguments: Iterable[tuple], window: int) -> Iterator[Any]:
    """``function(*args)`` for each item as a Dask task, results yielded in submission order.

    At most ``window`` tasks are in flight or waiting to be read, so whatever the number of
    items the client holds at most ``window`` results. Closing it early (use ``closing``: an
    error, or the consumer stops) cancels the tasks not yet read."""
    pending: deque = deque()
    try:
        for args in arguments:
            pending.append(client.submit(function, *args, pure=False))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        if pending:
            client.cancel(list(pending))
