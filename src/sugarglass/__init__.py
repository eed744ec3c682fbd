"""Sugarglass: living, data-driven artworks made with consent."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    """``__version__`` from the installed package's metadata, looked up only when asked for:
    importlib.metadata costs a tenth of a second that ``sugarglass --help`` should not pay."""
    if name != "__version__":
        raise AttributeError(f"module 'sugarglass' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sugarglass")
    except PackageNotFoundError:  # running from a source tree without install
        return "0.0.0+source"
