"""Scale-out on Dask: archives scored in partitions across workers, and parameter sweeps of the
society run as tasks. A local cluster by default; any ``dask.distributed`` scheduler by address.
See docs/scale.md for running on several machines or a batch system.

Only the work file's part (``config``) is imported here, so that ``work.py`` can import it; the
rest is in ``cluster``, ``parquet``, ``partitions``, ``archive`` and ``sweep``."""

from .config import ClusterError, ParquetSource, ScaleConfig

__all__ = ["ClusterError", "ParquetSource", "ScaleConfig"]
