"""The `[live]` table of a work file: where the installation serves, and the visitors' limits.

The admin token itself never lives in the work file (work files are shared, copied and put under
version control); the table only names the environment variable that holds it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt


class LiveSettings(BaseModel):
    """The live page, the visitors' form and the admin endpoints."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"  # loopback by default; a tablet on the gallery network needs 0.0.0.0
    port: int = Field(default=8765, ge=0, le=65535)  # 0: any free port
    tick_seconds: PositiveFloat = 1.0  # wall time between society ticks; the page spreads each over this
    checkpoint_every: PositiveInt = 60  # ticks between checkpoints of the run (read by the run)
    watch: list[str] = Field(default_factory=list)  # source ids whose file or folder is re-read when it changes
    heartbeat_ticks: PositiveInt = 60  # a log line at least this often, even when nothing happens
    kiosk: bool = False  # the painting page starts in kiosk mode without ?kiosk=1
    # visitors
    max_message_chars: int = Field(default=280, ge=1, le=10_000)
    visitor_limit: PositiveInt = 3  # messages one client address may send per window
    visitor_window_seconds: PositiveFloat = 600.0
    withdraw_limit: PositiveInt = 10  # receipt-code attempts one client address may make per window
    visitor_queue: PositiveInt = 100  # messages waiting for the next tick, from everyone together
    max_body_bytes: int = Field(default=16_384, ge=1024, le=1_048_576)  # any request body
    # admin
    admin_token_env: str = Field(default="SUGARGLASS_ADMIN_TOKEN", min_length=1)
