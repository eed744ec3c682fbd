"""One command line over all of Sugarglass: ``sugarglass --help`` lists the commands.

A module per command group, each importing only ``common``; this module mounts them. The rest of
Sugarglass (numba, numpy, the canvas) is imported by a command when it runs, so asking for help
or the version answers at once.
"""

from __future__ import annotations

import typer

from . import consent, feelings, garden, ingest, live, making, records, scale
from .common import main

app = typer.Typer(help="Living, data-driven artworks made with consent.", no_args_is_help=True, add_completion=False,
                  rich_markup_mode=None)
app.callback()(main)
for command in (making.init, ingest.ingest, making.run, making.simulate, live.live, records.verify, records.provenance, records.audit,
                scale.sweep):
    app.command()(command)
app.add_typer(consent.app, name="consent")
app.add_typer(feelings.app, name="feelings")
app.add_typer(garden.app, name="garden")

__all__ = ["app"]
