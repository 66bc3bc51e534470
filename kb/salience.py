"""How much a passage is about each entity it is tagged with: the ``salience`` of a
PassageRecord (kb.search.types), from which a backend ranks the passages an entity query
matches (the Whoosh backend: kb.search.whoosh.compile.Salient).

Points per (passage, entity), an integer >= 1 for every entity the passage is tagged with:

* mentions of the entity in the passage text, up to MAX_MENTIONS;
* HEADING_POINTS when one of the entity's surface forms in the document (what the tagger
  found, in any language) appears in the passage's heading path;
* TITLE_POINTS when one appears in the document title;
* SUBJECT_POINTS for a country that is the document's subject: the ``country`` of its
  metadata (sidecar or record collection), else the one country all its authors share.

So a passage of the Marshall Islands' General Debate statement that names Kazakhstan once
scores 1 for KAZ, a passage of Kazakhstan's own statement naming it once 1 + 4 (+ 2 when
the title names it). Points only rank passages an entity query already matches; they never
add a tag.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

MAX_MENTIONS = 5
HEADING_POINTS = 3
TITLE_POINTS = 2
SUBJECT_POINTS = 4


def subject_country(metadata: Mapping[str, Any] | None) -> str | None:
    """The ISO3 code a document is about, from its metadata; None when it does not say."""
    meta = metadata or {}
    code = meta.get("country")
    if isinstance(code, str) and code.strip():
        return code.strip().upper()
    countries = {str(a.get("country")).upper() for a in meta.get("author_details") or []
                 if isinstance(a, Mapping) and a.get("country")}
    return countries.pop() if len(countries) == 1 else None


def passage_salience(mentions: Iterable[Mapping[str, Any]], headings: Mapping[str, str], title: str,
                     subject: str | None) -> dict[str, dict[str, dict[str, int]]]:
    """passage id -> entity type -> entity id -> points, for one document.

    ``mentions``: the document's mention rows (passage_id, type, entity_id, text);
    ``headings``: passage id -> heading path joined as one string."""
    counts: dict[str, Counter] = defaultdict(Counter)
    surfaces: dict[tuple[str, str], set[str]] = defaultdict(set)
    for m in mentions:
        key = (m["type"], m["entity_id"])
        counts[m["passage_id"]][key] += 1
        if len(m["text"]) >= 2:
            surfaces[key].add(m["text"].casefold())
    title_cf = (title or "").casefold()
    in_title = {key for key, forms in surfaces.items() if any(f in title_cf for f in forms)}
    out: dict[str, dict[str, dict[str, int]]] = {}
    for pid, per_entity in counts.items():
        heading = (headings.get(pid) or "").casefold()
        by_type: dict[str, dict[str, int]] = {}
        for (typ, ent_id), n in per_entity.items():
            points = min(n, MAX_MENTIONS)
            if heading and any(f in heading for f in surfaces[(typ, ent_id)]):
                points += HEADING_POINTS
            if (typ, ent_id) in in_title:
                points += TITLE_POINTS
            if typ == "country" and subject and ent_id.upper() == subject:
                points += SUBJECT_POINTS
            by_type.setdefault(typ, {})[ent_id] = points
        out[pid] = by_type
    return out
