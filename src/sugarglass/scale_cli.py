"""The two scale-out commands as plain functions, for ``cli.py`` to mount:
``sugarglass ingest WORK --parallel [--scheduler ADDRESS]`` and ``sugarglass sweep WORK --set
name=v1,v2 ... --seeds N --steps N [--scheduler ADDRESS]``.

Each checks everything it can before it connects (a sweep's settings, every combination), then
connects (a local cluster unless the work's ``[scale]`` table or ``scheduler`` names one), so an
unreachable scheduler or a wrong value is an error before any work starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .ingest import IngestResult, check_consents
from .scale.archive import ingest_archive
from .scale.cluster import open_client, scale_settings
from .scale.sweep import parse_settings, plan_sweep, run_sweep
from .store import Store
from .work import Work


def ingest_parallel(work: Work, store: Store, *, scheduler: str | None = None, partition_rows: int | None = None,
                    progress: Any = None, sources: list[str] | None = None) -> list[IngestResult]:
    """Ingest every source of the work (or those named, as ``--source``), large files in
    partitions scored on the cluster; the store ends as ``ingest_work`` would leave it.
    ``progress``: a rich ``Progress``, one task per file counting its partitions."""
    scale = scale_settings(work)
    chosen = [work.source(name) for name in sources] if sources else None
    check_consents(work, store)
    with open_client(scheduler or scale.scheduler, workers=scale.workers, timeout=scale.connect_timeout) as client:
        return ingest_archive(work, store, client, partition_rows=partition_rows or scale.partition_rows,
                              progress=progress, sources=chosen)


def sweep(work: Work, *, settings: dict[str, list], seeds: int, steps: int, scheduler: str | None = None,
          out_dir: Path, progress: Any = None) -> Path:
    """Run every combination of ``settings`` for each of ``seeds`` seeds (the work's seed and the
    ones after it), ``steps`` ticks each; returns the path of the Parquet table (its folder also
    holds the plots and ``manifest.json``)."""
    scale = scale_settings(work)
    plan = plan_sweep(work, settings, seeds, steps)
    with open_client(scheduler or scale.scheduler, workers=scale.workers, timeout=scale.connect_timeout) as client:
        return run_sweep(work, plan, client, Path(out_dir), progress)


__all__ = ["ingest_parallel", "parse_settings", "sweep"]
