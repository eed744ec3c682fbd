"""The work file: the artist's score, in TOML, validated before anything runs.

The artist decides the flow of data, so the file names every source with its consent, the
analyzer, how feelings become a signal, and (later stages) the society and its outputs. Any
problem is reported with the key that holds it and the file it is in, all problems at once.
"""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from . import __version__
from .canvas.config import CanvasConfig
from .consent import Consent
from .couplings import CouplingsConfig
from .errors import WorkFileError
from .problems import SLUG, plain_problems, toml_problem
from .live.settings import LiveSettings
from .outputs.config import OutputConfig, SacnOutput, SafetyConfig
from .provenance.manifest import ProvenanceConfig
from .readout import ReadoutConfig
from .scale.config import ParquetSource, ScaleConfig
from .society.config import SocietyConfig

OnError = Literal["fail", "skip"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _FileSource(_Strict):
    """What every source read from files has. ``on_error``: a bad record stops the ingest
    (``fail``) or is skipped and counted (``skip``). ``on_repeated_id``: a post whose id an
    earlier post of the same file already had is the same post exported twice, so by default it
    is skipped and counted, the first kept (``skip``); ``fail`` makes it an error naming both
    lines, for an archive that must not hold any."""

    id: str = Field(pattern=SLUG, description="the source's name in the store and in manifests")
    path: Path
    consent: Consent
    on_error: OnError = "fail"
    on_repeated_id: OnError = "skip"
    encoding: str = "utf-8"
    description: str = ""

    @property
    def location(self) -> str:
        """Where the source is read from, as the work file says it."""
        return str(self.path)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown text encoding {value!r}") from None
        return value


class TableSource(_FileSource):
    """CSV or TSV with a header row. Columns are found by name; ``text``/``tweet`` by default."""

    kind: Literal["csv", "tsv"]
    text_column: str | None = None
    id_column: str | None = None
    time_column: str | None = None


class JsonLinesSource(_FileSource):
    """One JSON object a line; fields found by name like the table columns."""

    kind: Literal["jsonl"]
    text_field: str | None = None
    id_field: str | None = None
    time_field: str | None = None


class TwitterArchiveSource(_FileSource):
    """An X/Twitter data export: the archive's ``.zip`` as downloaded (its ``data/tweets.js``
    and ``tweets-part1.js``..., or ``tweet.js`` in archives before late 2022), or one such file."""

    kind: Literal["twitter-archive"]


class MastodonOutboxSource(_FileSource):
    """A Mastodon export: the archive as downloaded (``.zip`` since Mastodon 4.1, ``.tar.gz``
    before) or its ``outbox.json``; only public posts are read."""

    kind: Literal["mastodon-outbox"]


class Feelings2019Source(_FileSource):
    """The 2019 artwork's ``feelings.db``: scores without text, in row order."""

    kind: Literal["feelings-2019"]


def http_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    return value.strip()


class _PolledSource(_Strict):
    """What every source read over the network on a schedule has: when it is read again, how
    far a failure backs it off, and the limits of one answer."""

    id: str = Field(pattern=SLUG, description="the source's name in the store and in manifests")
    consent: Consent
    on_error: Literal["fail", "skip"] = "fail"
    poll_seconds: float = Field(default=900, ge=30)
    max_backoff_seconds: float = Field(default=6 * 3600, ge=30)
    timeout_seconds: float = Field(default=20, gt=0, le=600)
    max_bytes: int = Field(default=5_000_000, ge=1024)
    description: str = ""

    @model_validator(mode="after")
    def _backoff_above_poll(self):
        if self.max_backoff_seconds < self.poll_seconds:
            raise ValueError("max_backoff_seconds must be at least poll_seconds")
        return self


class FeedSource(_PolledSource):
    """An RSS or Atom feed, polled every ``poll_seconds`` and backed off on failure."""

    kind: Literal["feed"]
    url: str
    check_item_pages: bool = True
    user_agent: str = Field(default=f"Sugarglass/{__version__} (+https://example.org/sugarglass; honours TDMRep)", min_length=1)

    @property
    def location(self) -> str:
        return self.url

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return http_url(value)


class BlueskyRepoSource(_FileSource):
    """A Bluesky repository export: the CAR file ``com.atproto.sync.getRepo`` gives (Settings ->
    Export my data); only its posts (``app.bsky.feed.post``) are read."""

    kind: Literal["bluesky-repo"]
    replies: bool = False


def _base_url(value: str) -> str:
    """An API's base URL, without the slash that would double before ``/api`` or ``/xrpc``."""
    return http_url(value).rstrip("/")


class _AccountSource(_PolledSource):
    """What a social account read through its public API has besides: whether the author's
    replies count as posts, how many pages one read may take, how long it may wait out a rate
    limit."""

    replies: bool = False
    poll_seconds: float = Field(default=300, ge=30)
    max_bytes: int = Field(default=2_000_000, ge=1024)
    max_pages: int = Field(default=1000, ge=1, description="pages read in one ingest, at most")
    max_rate_wait_seconds: float = Field(default=900, ge=0)
    user_agent: str = Field(default=f"Sugarglass/{__version__} (+https://example.org/sugarglass; honours #nobot)", min_length=1)


_ACCT = re.compile(r"^@?([A-Za-z0-9_]+)@([A-Za-z0-9.-]+\.[A-Za-z0-9-]+|localhost)$")


class MastodonSource(_AccountSource):
    """A Mastodon account's public posts, read through its instance's REST API.

    ``account`` is ``@name@host``; ``instance`` is the API's base URL, ``https://host`` unless
    given (any base URL, so an instance behind another name, or a test on loopback, works)."""

    kind: Literal["mastodon"]
    account: str
    instance: str | None = None

    @field_validator("account")
    @classmethod
    def _full_account(cls, value: str) -> str:
        if not _ACCT.match(value.strip()):
            raise ValueError(f"{value!r} is not a full account like '@name@host.example'")
        return "@" + value.strip().lstrip("@")

    @field_validator("instance")
    @classmethod
    def _instance_url(cls, value: str | None) -> str | None:
        return None if value is None else _base_url(value)

    @property
    def username(self) -> str:
        return self.account.lstrip("@").split("@")[0]

    @property
    def host(self) -> str:
        return self.account.rsplit("@", 1)[1]

    @property
    def base_url(self) -> str:
        return self.instance or f"https://{self.host}"

    @property
    def location(self) -> str:
        return self.account


class BlueskySource(_AccountSource):
    """A Bluesky account's posts, read through an AppView's public XRPC API.

    ``actor`` is a handle or a DID. ``opt_out_labels`` lists labels (self-labels or a
    labeller's) that the work treats as a refusal, besides ``!no-unauthenticated``, which is
    always one. ``jetstream``, given, is a Jetstream ``/subscribe`` URL a live run listens to for
    new posts within a tick, beside the poll (which still hears the account's signals)."""

    kind: Literal["bluesky"]
    actor: str = Field(min_length=3)
    service: str = "https://public.api.bsky.app"
    opt_out_labels: list[str] = Field(default_factory=list)
    jetstream: str | None = None

    @field_validator("service")
    @classmethod
    def _service_url(cls, value: str) -> str:
        return _base_url(value)

    @field_validator("jetstream")
    @classmethod
    def _websocket_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError(f"{value!r} is not a ws:// or wss:// URL")
        return value.strip()

    @property
    def location(self) -> str:
        return self.actor


PolledSource = FeedSource | MastodonSource | BlueskySource
"""Sources read over the network on a schedule rather than from files."""

Source = Annotated[
    TableSource | JsonLinesSource | TwitterArchiveSource | MastodonOutboxSource | Feelings2019Source | FeedSource
    | ParquetSource | MastodonSource | BlueskySource | BlueskyRepoSource,
    Field(discriminator="kind"),
]


class AnalyzerConfig(_Strict):
    """Which analyzer scores each language, and what to do with posts in any other.

    ``languages`` gives a language (ISO 639-1) an analyzer made for it, e.g. ``fr = "vader-fr"``,
    ``pt = "leia"``; English is always VADER. ``non_english`` is for posts in a language with no
    analyzer of its own: ``flag`` scores them with English VADER and marks them (the 2019 way),
    ``skip`` leaves them out and counts them. ``guess_among`` names the languages the sources
    write in, to settle short posts the classifier (used only for posts that declare no
    language) is unsure of; a post it finds confidently in another language keeps it."""

    name: Literal["vader"] = "vader"
    languages: dict[str, str] = Field(default_factory=dict)
    non_english: Literal["flag", "skip"] = "flag"
    guess_among: list[str] | None = None

    @field_validator("guess_among")
    @classmethod
    def _language_codes(cls, value: list[str] | None) -> list[str] | None:
        for code in value or []:
            if not re.fullmatch(r"[a-z]{2,3}", code):
                raise ValueError(f"{code!r} is not an ISO 639 language code like 'en' or 'pt'")
        return value

    @field_validator("languages")
    @classmethod
    def _own_language(cls, value: dict[str, str]) -> dict[str, str]:
        from .affect.lexicons import LEXICONS

        for language, analyzer in value.items():
            if analyzer not in LEXICONS:
                raise ValueError(f"{language} = {analyzer!r}: no such analyzer (known: {', '.join(LEXICONS)})")
            made_for = LEXICONS[analyzer].language
            if made_for != language:
                raise ValueError(f"{language} = {analyzer!r}: {analyzer} is made for {made_for!r}; "
                                 f"a language is only scored by an analyzer made for it")
        return value


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """``"90s"``, ``"15m"``, ``"6h"``, ``"1d"``, ``"2w"`` -> timedelta."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like '30m', '6h' or '1d'")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    return timedelta(seconds=seconds)


class SignalConfig(_Strict):
    """How stored feelings become one value per tick.

    Either ``window`` (a duration: posts are grouped by their time) or ``posts_per_tick``
    (a count: posts are taken in order, as the 2019 work read one row a tick). ``fill`` says
    what an empty window carries: the last values (``hold``) or neutral feeling (``neutral``).
    """

    window: str | None = None
    posts_per_tick: int | None = Field(default=None, ge=1)
    fill: Literal["hold", "neutral"] = "hold"
    sources: list[str] | None = None

    @field_validator("window")
    @classmethod
    def _valid_window(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @model_validator(mode="after")
    def _one_grouping(self) -> SignalConfig:
        if self.window is not None and self.posts_per_tick is not None:
            raise ValueError("give either window or posts_per_tick, not both")
        return self

    @property
    def window_length(self) -> timedelta | None:
        return parse_duration(self.window) if self.window else None


class WorkFile(_Strict):
    """What every work file has, whichever work it scores: a name, an artist, a seed, a store,
    the artist's provenance statement, and the folder its paths are relative to."""

    name: str = Field(pattern=SLUG)
    title: str = ""
    artist: str = ""
    seed: int = Field(default=0, ge=0)
    store: Path | None = None
    provenance: ProvenanceConfig = ProvenanceConfig()

    _path: Path = PrivateAttr(default=Path("work.toml"))

    @property
    def path(self) -> Path:
        return self._path

    @property
    def base_dir(self) -> Path:
        return self._path.parent

    def resolve(self, path: Path) -> Path:
        """A path from the work file, made absolute against the file's folder."""
        return path if path.is_absolute() else (self.base_dir / path).resolve()

    @property
    def store_path(self) -> Path:
        return self.resolve(self.store) if self.store else self.base_dir / f"{self.name}.sqlite"


class Work(WorkFile):
    """The sentiment work: sources, signal, society, couplings, readout, canvas, outputs."""

    analyzer: AnalyzerConfig = AnalyzerConfig()
    sources: list[Source] = Field(min_length=1)
    signal: SignalConfig = SignalConfig(window="1d")
    society: SocietyConfig = Field(default_factory=SocietyConfig)
    couplings: CouplingsConfig = CouplingsConfig()
    readout: ReadoutConfig = ReadoutConfig()
    canvas: CanvasConfig = Field(default_factory=CanvasConfig)
    outputs: list[OutputConfig] = Field(default_factory=list)
    safety: SafetyConfig = Field(default_factory=SafetyConfig)
    live: LiveSettings = Field(default_factory=LiveSettings)
    scale: ScaleConfig = ScaleConfig()

    @model_validator(mode="after")
    def _unique_sources(self) -> Work:
        seen: set[str] = set()
        for source in self.sources:
            if source.id in seen:
                raise ValueError(f"two sources are named {source.id!r}")
            seen.add(source.id)
        for name in self.signal.sources or []:
            if name not in seen:
                raise ValueError(f"signal.sources names {name!r}, which is not a source of this work")
        for name in self.live.watch:
            if name not in seen:
                raise ValueError(f"live.watch names {name!r}, which is not a source of this work")
            if isinstance(self.source(name), PolledSource):
                raise ValueError(f"live.watch names {name!r}, which is read over the network on its own schedule")
        for output in self.outputs:
            if not isinstance(output, SacnOutput):
                continue
            if self.canvas.signed:
                raise ValueError(f"outputs: sACN universe {output.universe} cannot drive elements both ways "
                                 "(canvas.signed); a dimmer's 0 is off, so use serial with an H-bridge receiver")
            last = output.start_channel - 1 + self.canvas.elements * output.channels_per_element
            if last > 512:
                raise ValueError(f"outputs: {self.canvas.elements} elements x {output.channels_per_element} channels from "
                                 f"channel {output.start_channel} end at {last}, past the universe's 512")
        if (self.readout.columns, self.readout.rows) != (self.canvas.columns, self.canvas.rows):
            raise ValueError(
                f"readout is {self.readout.columns} x {self.readout.rows} elements but canvas is "
                f"{self.canvas.columns} x {self.canvas.rows}; they must match"
            )
        return self

    @property
    def signal_sources(self) -> list[str]:
        """The sources the stored signal is made of: those the signal names, or every source the
        work declares (never the visitors' messages, which enter a live run as they come)."""
        return list(self.signal.sources) if self.signal.sources else [s.id for s in self.sources]

    def source(self, source_id: str) -> Source:
        for source in self.sources:
            if source.id == source_id:
                return source
        known = ", ".join(s.id for s in self.sources)
        raise KeyError(f"work {self.name!r} has no source {source_id!r} (it has: {known})")


def read_work_file(path: Path) -> dict:
    """The TOML of a work file, or an error naming the file and what is wrong with it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WorkFileError(path, ["no such file"]) from None
    except IsADirectoryError:
        raise WorkFileError(path, ["is a folder, not a work file"]) from None
    except UnicodeDecodeError as exc:
        raise WorkFileError(path, [f"not UTF-8 text ({exc.reason} at byte {exc.start})"]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise WorkFileError(path, [toml_problem(str(exc), text)]) from None


W = TypeVar("W", bound=WorkFile)


def validate_work(model: type[W], raw: dict, path: Path) -> W:
    """Validate a work file's tables; every problem is reported with its key, in one error."""
    try:
        work = model.model_validate(raw)
    except ValidationError as exc:
        raise WorkFileError(path, plain_problems(exc.errors(), raw, model)) from None
    work._path = path.resolve()
    return work


def load_work(path: Path | str) -> Work:
    path = Path(path)
    return validate_work(Work, read_work_file(path), path)
