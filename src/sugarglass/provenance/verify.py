"""Verifying an output against its manifest and against the consent behind it, now.

Each check has a name, a verdict and a sentence; the verdict of the whole is that every check
passed. Integrity (the content hash, the seal) says whether the file is what its manifest says;
consent says whether every source is still in force today, or was withdrawn since.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from ..errors import SugarglassError
from .embed import DamagedFile, read_label
from .manifest import FORMAT, seal, sha256_file


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Verdict:
    path: Path
    checks: list[Check] = field(default_factory=list)
    manifest: dict | None = None

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append(Check(name, ok, detail))
        return ok


def verify(path: Path, store_path: Path | None = None, today: date | None = None) -> Verdict:
    """Check one output (or a run's ``manifest.json``, which checks every file it lists)."""
    if path.name == "manifest.json":
        return _verify_folder(path, store_path, today)
    verdict = Verdict(path)
    try:
        found = read_label(path)
    except DamagedFile as exc:
        verdict.add("readable", False, str(exc))
        return verdict
    if found.record is None:
        verdict.add("manifest", False, f"no Sugarglass manifest in {path.name} (none was made, or it was stripped)")
        return verdict
    record = found.record
    manifest, content = record["manifest"], record["content"]
    verdict.manifest = manifest
    if not verdict.add("manifest", manifest.get("format") == FORMAT, f"{found.where}, format {manifest.get('format')!r}"):
        return verdict
    verdict.add("seal", seal(manifest, content) == record["seal"],
                "the manifest is as it was made" if seal(manifest, content) == record["seal"]
                else "the manifest was altered after it was made (its seal does not match)")
    same = content.get("sha256") == found.content_sha256
    verdict.add("content", same,
                f"{content.get('method')} matches the manifest" if same else
                f"the content does not match its manifest ({content.get('method')}: manifest says "
                f"{str(content.get('sha256'))[:16]}…, the file has {found.content_sha256[:16]}…): changed since, or the hash forged")
    _check_consent(verdict, manifest, store_path or find_store(manifest, path), today)
    return verdict


def _verify_folder(path: Path, store_path: Path | None, today: date | None) -> Verdict:
    verdict = Verdict(path)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        verdict.add("readable", False, f"{path}: not a readable manifest ({exc})")
        return verdict
    verdict.manifest = manifest
    for name, digest in sorted(manifest.get("files", {}).items()):
        file = path.parent / name
        if not file.is_file():
            verdict.add(name, False, f"{name} is listed in the manifest but missing")
            continue
        now = sha256_file(file)
        verdict.add(name, now == digest, "as listed" if now == digest else f"{name} changed since the manifest was written")
    _check_consent(verdict, manifest, store_path or find_store(manifest, path), today)
    return verdict


def find_store(manifest: dict, output: Path) -> Path:
    """The store a manifest names, relative to the work's folder: outputs live in
    ``<work folder>/out/<run>/``, so it is looked for beside each folder above the output (and
    in the shell's folder, for a run given ``--out`` elsewhere)."""
    name = Path(manifest.get("work", {}).get("store", ""))
    for folder in Path(output).resolve().parents:
        if (folder / name).is_file():
            return folder / name
    return name


def _check_consent(verdict: Verdict, manifest: dict, store_path: Path, today: date | None) -> None:
    """Every source still in force: not withdrawn, not expired, its record unchanged."""
    from ..store import Store

    today = today or date.today()
    if not store_path.is_file():
        verdict.add("consent", False, f"the store {store_path} is not here, so consent cannot be checked (pass --store)")
        return
    try:
        store = Store(store_path)
    except SugarglassError as exc:
        verdict.add("consent", False, str(exc))
        return
    with store:
        made = manifest.get("created_at", "")  # a part withdrawn before the output was made is not in it
        withdrawn = {row["source"]: row for row in store.withdrawals() if row["withdrawn_at"] >= made}
        current = {row["source"]: row for row in store.consents()}
        for source in manifest.get("sources", []):
            name, record = source["id"], source["consent"]
            row = current.get(name)
            if row is not None and row["withdrawn_at"]:
                verdict.add(f"consent {name}", False, f"made with data since withdrawn: {name} was withdrawn on {row['withdrawn_at'][:10]}")
            elif name in withdrawn:
                verdict.add(f"consent {name}", False, f"made with data since withdrawn: part of {name} was withdrawn on {withdrawn[name]['withdrawn_at'][:10]}")
            elif record.get("expires") and record["expires"] < today.isoformat():
                verdict.add(f"consent {name}", False, f"consent of {name} expired on {record['expires']}")
            elif row is None:
                verdict.add(f"consent {name}", False, f"the store has no record of {name}")
            elif row["expires"] and row["expires"] < today.isoformat():
                verdict.add(f"consent {name}", False, f"consent of {name} expired on {row['expires']}")
            elif row["scope"] != record["scope"]:
                verdict.add(f"consent {name}", False, f"consent of {name} changed since: scope is now {row['scope']!r}, was {record['scope']!r}")
            elif (source.get("account") or {}).get("refused"):
                verdict.add(f"consent {name}", True, f"nothing read: the account refused ({source['account']['refused']})")
            else:
                verdict.add(f"consent {name}", True, f"in force ({record['basis']}, {record['scope']}, {record['licence']})")
