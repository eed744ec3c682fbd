"""A manifest as W3C PROV: who and what an output came from, in a form other tools read."""

from __future__ import annotations

from prov.model import ProvDocument

NAMESPACE = "https://example.org/sugarglass/ns#"


def to_prov(manifest: dict, content: dict | None = None) -> ProvDocument:
    """The run as an activity that used each source (each with its consent as attributes) and
    generated the output, associated with the artist and with Sugarglass."""
    document = ProvDocument()
    document.add_namespace("sg", NAMESPACE)
    work = manifest["work"]
    run = document.activity(f"sg:run-{work['name']}-{manifest['seed']}", other_attributes={
        "sg:seed": manifest["seed"], "sg:steps": manifest["steps"], "sg:created_at": manifest["created_at"],
        "sg:preset": manifest.get("society", {}).get("preset", ""),
    })
    artist = document.agent(f"sg:artist-{work['name']}", other_attributes={"prov:label": work["artist"] or "unnamed artist",
                                                                        "prov:type": "prov:Person"})
    software = document.agent("sg:sugarglass", other_attributes={"prov:type": "prov:SoftwareAgent",
                                                                 "sg:version": manifest["generator"]["version"]})
    document.wasAssociatedWith(run, artist)
    document.wasAssociatedWith(run, software)
    analyzer = manifest.get("analyzer", {})
    if analyzer:
        model = document.entity(f"sg:analyzer-{analyzer['name']}", other_attributes={
            "sg:version": analyzer.get("version", ""), "sg:licence": analyzer.get("licence", "")})
        document.used(run, model)
    for source in manifest.get("sources", []):
        consent = source["consent"]
        entity = document.entity(f"sg:source-{source['id']}", other_attributes={
            "sg:kind": source["kind"], "sg:sha256": source["file_sha256"], "sg:posts": source["posts"],
            "sg:consent_basis": consent["basis"], "sg:consent_scope": consent["scope"],
            "sg:licence": consent["licence"], "sg:granted_at": consent["granted_at"],
            **({"sg:evidence": consent["evidence"]} if "evidence" in consent else {}),
        })
        grantor = document.agent(f"sg:grantor-{source['id']}", other_attributes={"prov:label": consent["granted_by"]})
        document.wasAttributedTo(entity, grantor)
        document.used(run, entity)
    label = (content or {}).get("file", f"{work['name']} outputs")
    output = document.entity(f"sg:output-{label}", other_attributes={
        "sg:sha256": (content or {}).get("sha256", ""), "sg:digital_source_type": manifest["digital_source_type"],
        "sg:data_mining": manifest["data_mining"]["plus"],
    })
    document.wasGeneratedBy(output, run)
    document.wasAttributedTo(output, artist)
    return document
