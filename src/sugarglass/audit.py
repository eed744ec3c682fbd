"""An audit of a work against the four criteria of the essay Sugarglass answers.

For each, what the tool can actually check: every source consented and used within its scope;
models only local or trained on the artist's own data; visitors able to take part (and to take
their words back); outputs labelled with what went into them. A garden work is audited the same
way: its dataset, and any third-party model or texture its passes use, are its sources.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from .provenance import read_label
from .store import Store
from .work import Work


@dataclass
class Criterion:
    title: str
    ok: bool = True
    findings: list[tuple[bool, str]] = field(default_factory=list)

    def note(self, ok: bool, text: str) -> None:
        self.findings.append((ok, text))
        self.ok = self.ok and ok


def audit(work: Work, store: Store, today: date | None = None) -> list[Criterion]:
    today = today or date.today()
    return [_consent(work, store, today), _models(work), _visitors(work), _labels(work, store)]


def _consent(work: Work, store: Store, today: date) -> Criterion:
    criterion = Criterion("Every source is consented and used within its scope")
    stored = {row["source"]: row for row in store.consents()}
    counts = store.counts()
    for source in work.sources:
        c = source.consent
        row = stored.get(source.id)
        if row is not None and row["withdrawn_at"]:
            criterion.note(False, f"{source.id}: withdrawn on {row['withdrawn_at'][:10]}, yet still named in the work")
            continue
        if c.expires is not None and c.expires < today:
            criterion.note(False, f"{source.id}: consent expired on {c.expires}")
            continue
        if c.granted_at > today:
            criterion.note(False, f"{source.id}: consent only from {c.granted_at}")
            continue
        texts = counts.get(source.id, {}).get("with_text", 0)
        if texts and not c.keeps_text:
            criterion.note(False, f"{source.id}: {texts} texts stored although the scope is 'score'")
            continue
        account = store.account_signals(source.id)
        refused = f"; the account refuses ({account['refused']}), so nothing is read" if account and account["refused"] else ""
        criterion.note(True, f"{source.id}: {c.basis}, scope {c.scope}, {c.licence}, granted by {c.granted_by} "
                             f"on {c.granted_at}; {counts.get(source.id, {}).get('posts', 0)} posts stored{refused}")
    for name, row in stored.items():
        if name not in {s.id for s in work.sources} and not row["withdrawn_at"] and row["posts"] and name != "visitors":
            criterion.note(False, f"{name}: {row['posts']} posts stored from a source this work no longer declares")
    return criterion


def _models(work: Work) -> Criterion:
    from .affect import make_analyzers

    criterion = Criterion("Models are local, or trained only on the artist's own data")
    for analyzer in make_analyzers(work.analyzer).by_language.values():
        criterion.note(True, f"scoring {analyzer.language}: {analyzer.name} {analyzer.version}, a rule-based lexicon shipped "
                             f"inside its package and run on this machine ({analyzer.licence}); nothing is sent anywhere")
    criterion.note(True, "no generative model is used by this work")
    return criterion


def _visitors(work: Work) -> Criterion:
    live = work.live
    criterion = Criterion("Visitors can take part")
    criterion.note(True, f"`sugarglass live` serves a visitor form at http://{live.host}:{live.port}/visit: up to "
                         f"{live.max_message_chars} characters, {live.visitor_limit} messages per "
                         f"{live.visitor_window_seconds / 60:g} minutes from one device")
    criterion.note(True, "each visitor chooses 'score only' or 'keep text' and gets a receipt code; /withdraw takes "
                         "their words back at any time")
    return criterion


def audit_garden(work, store: Store, today: date | None = None) -> list[Criterion]:
    """The four criteria for a garden work (``garden.config.GardenWork``)."""
    from .garden.config import DiffusersPass, MaterialPass

    today = today or date.today()
    consent = Criterion("Every source is consented and used within its scope")
    dataset = work.garden.dataset
    stored = {row["source"]: row for row in store.consents()}
    row = stored.get(dataset.id)
    if row is not None and row["withdrawn_at"]:
        consent.note(False, f"{dataset.id}: withdrawn on {row['withdrawn_at'][:10]}, yet still named in the work")
    else:
        consent.note(*_in_force(dataset.id, dataset.consent, today, "the images the garden's model learns from"))
    models = Criterion("Models are local, or trained only on the artist's own data")
    models.note(True, f"the garden's model is trained here, from nothing, only on {dataset.id!r}; its judge (for "
                      "`garden eval`) only on the same images; no pretrained weights anywhere")
    for index, settings in enumerate(work.garden.passes):
        where = f"garden.passes[{index}:{settings.kind}]"
        if isinstance(settings, DiffusersPass):
            record = settings.record
            consent.note(*_in_force(f"{where} {record.name}", record.consent, today,
                                    f"a third-party model ({record.licence}, from {record.origin})"))
            consent.note(False, f"{where} {record.name}: trained on {record.trained_on} (as declared), not on "
                                "data gathered with this work's consent; pictures it touches say so in their manifest")
            models.note(True, f"{where} {record.name}: a local pipeline read from {settings.model}, never downloaded")
        if isinstance(settings, MaterialPass) and settings.consent is not None:
            consent.note(*_in_force(f"{where} {settings.texture}", settings.consent, today, "a texture image"))
    visitors = Criterion("Visitors can take part")
    visitors.note(True, "the garden reads no visitors' words; the installation's visitor form belongs to the "
                        "sentiment work (`sugarglass live`)")
    return [consent, models, visitors, _labels(work, store, kind="garden")]


def _in_force(name: str, record, today: date, what: str) -> tuple[bool, str]:
    if record.expires is not None and record.expires < today:
        return False, f"{name}: consent expired on {record.expires}"
    if record.granted_at > today:
        return False, f"{name}: consent only from {record.granted_at}"
    return True, (f"{name}, {what}: {record.basis}, {record.licence}, granted by {record.granted_by} "
                  f"on {record.granted_at}")


def _labels(work, store: Store, kind: str = "run") -> Criterion:
    """Every file in every output folder of the work, not only those its manifest lists: a file
    the manifest does not name and that carries no manifest of its own is unlabelled."""
    from .erasure import NOTICE
    from .live.guard import LIMITS_FILE, SECRET_FILE

    # what a folder holds beside its outputs: records about them, and a live run's own state
    not_outputs = {"manifest.json", NOTICE, SECRET_FILE, *(LIMITS_FILE + end for end in ("", "-wal", "-shm"))}
    criterion = Criterion("Outputs are labelled")
    kinds = ("run", "live") if kind == "run" else (kind,)
    folders = [Path(f) for (f,) in store.db.execute(
        f"SELECT DISTINCT folder FROM outputs WHERE work = ? AND kind IN ({', '.join('?' * len(kinds))}) ORDER BY id",
        (work.name, *kinds))]
    folders = [folder for folder in folders if folder.is_dir()]
    if not folders:
        criterion.note(True, "no outputs yet: every run writes manifest.json and labels each file it writes")
        return criterion
    for folder in folders:
        manifest = folder / "manifest.json"
        listed = set(json.loads(manifest.read_text(encoding="utf-8")).get("files", {})) if manifest.is_file() else set()
        files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                       if p.is_file() and "checkpoints" not in p.relative_to(folder).parts)
        outputs = [name for name in files if name not in not_outputs and not name.endswith(".manifest.json")]
        unlabelled = [name for name in outputs if name not in listed and not _carries_manifest(folder / name)]
        if unlabelled:
            criterion.note(False, f"{folder}: {len(unlabelled)} of {len(outputs)} file(s) without a manifest: "
                                  f"{', '.join(unlabelled[:10])}" + (" …" if len(unlabelled) > 10 else ""))
        else:
            criterion.note(True, f"{folder}: all {len(outputs)} files carry their manifest")
    return criterion


def _carries_manifest(path: Path) -> bool:
    try:
        return read_label(path).record is not None
    except Exception:  # noqa: BLE001 - a damaged file is an unlabelled one here
        return False
