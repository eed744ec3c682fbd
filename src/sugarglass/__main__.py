"""`python -m sugarglass` is the `sugarglass` command."""

from sugarglass.cli import app

app(prog_name="sugarglass")
