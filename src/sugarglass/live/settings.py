"""The `[live]` table of a work file: where the installation serves, and the visitors' limits.

The admin token itself never lives in the work file (work files are shared, copied and put under
version control); the table only names the environment variable that holds it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, field_validator


def normalise_origin(text: str) -> str | None:
    """`scheme://host[:port]` in lower case without a default port, as browsers send `Origin`;
    None if `text` is not an http(s) origin (a path, a user name, a bad port)."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    if parts.path or parts.query or parts.fragment:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default = 80 if parts.scheme == "http" else 443
    return f"{parts.scheme}://{host}" + ("" if port in (None, default) else f":{port}")


class LiveSettings(BaseModel):
    """The live page, the visitors' form and the admin endpoints."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"  # loopback by default; a tablet on the gallery network needs 0.0.0.0
    port: int = Field(default=8765, ge=0, le=65535)  # 0: any free port
    tick_seconds: PositiveFloat = 1.0  # wall time between society ticks; the page spreads each over this
    checkpoint_every: PositiveInt = 60  # ticks between checkpoints of the run (read by the run)
    checkpoint_keep: int = Field(default=3, ge=1, le=1000)  # generations kept: a damaged newest one falls back
    watch: list[str] = Field(default_factory=list)  # source ids whose file or folder is re-read when it changes
    heartbeat_ticks: PositiveInt = 60  # a log line at least this often, even when nothing happens
    kiosk: bool = False  # the painting page starts in kiosk mode without ?kiosk=1
    # visitors
    max_message_chars: int = Field(default=280, ge=1, le=10_000)
    visitor_limit: PositiveInt = 3  # messages one client address may send per window
    visitor_window_seconds: PositiveFloat = 600.0
    withdraw_limit: PositiveInt = 10  # receipt-code attempts one client address may make per window
    max_body_bytes: int = Field(default=16_384, ge=1024, le=1_048_576)  # any request body
    # where POSTs may come from besides the address served (a reverse proxy's https://art.example)
    allowed_origins: list[str] = Field(default_factory=list)
    csrf_max_age_seconds: PositiveFloat = 604_800.0  # a form outlives a tablet left idle over a closed weekend
    # admin
    admin_token_env: str = Field(default="SUGARGLASS_ADMIN_TOKEN", min_length=1)

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, values: list[str]) -> list[str]:
        """Each as browsers write it, so the check is a plain comparison."""
        normalised = []
        for value in values:
            origin = normalise_origin(value.rstrip("/"))
            if origin is None:
                raise ValueError(f"{value!r} is not an origin: write scheme://host[:port], like https://art.example")
            normalised.append(origin)
        return normalised
