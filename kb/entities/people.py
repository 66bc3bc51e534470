"""People as records: a sighting (PersonHit), merging sightings within a document, and
combining records across documents. Pure logic: finding sightings in text is
indexer.people's job."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kb.entities.slug import person_id

PARTICLES = {"de", "van", "von", "da", "di", "del", "der", "den", "bin", "ibn", "al", "el", "la", "le", "dos", "du"}


@dataclass
class PersonHit:
    """One rule-based sighting of a person, before merging within the document."""

    start: int  # char offsets in the tokenised text
    end: int
    words: list[str]  # the name's words as written, honorific excluded
    honorific: str | None = None
    affiliations: list[str] = field(default_factory=list)  # org ids
    countries: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    passage: int = 0  # index of the passage (or chunk) within the document
    source: str = "rule"

    @property
    def name(self) -> str:
        return join_name(self.words)


def join_name(words: list[str]) -> str:
    out = ""
    for w in words:
        if out and not out.endswith("-") and w != "-" and not w.startswith("-"):
            out += " "
        out += w
    return re.sub(r"\s*-\s*", "-", out).strip()



# -- merging within a document ------------------------------------------------------------
def _edit1(a: str, b: str) -> bool:
    """True when a and b differ by at most one insertion, deletion or substitution."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = j = diff = 0
    while i < len(a) and j < len(b):
        if a[i] != b[j]:
            diff += 1
            if diff > 1:
                return False
            if len(a) == len(b):
                i += 1
            j += 1
        else:
            i += 1
            j += 1
    return diff + (len(b) - j) <= 1


def _key(word: str) -> str:
    return word.lower().replace("-", "")


def _given(words: list[str]) -> list[str]:
    """Given names: the words before the surname and its particles ('Robert' of 'Robert de Jesus')."""
    k = len(words) - 1
    while k > 0 and words[k - 1].lower() in PARTICLES:
        k -= 1
    return [_key(w) for w in words[:k]]


def _compatible(short: list[str], full: list[str]) -> bool:
    s_last, f_last = _key(short[-1]), _key(full[-1])
    # surnames differ (beyond a typo), unless Korean order: 'Lee Byungshik' and 'Mr. Byungshik'
    if (s_last != f_last and not (len(s_last) >= 6 and _edit1(s_last, f_last))
            and (not any(_key(w) == s_last for w in full[:-1]) or len(short) > 1)):
        return False
    given_s, given_f = _given(short), _given(full)
    if given_s and given_f:
        return given_s[0] == given_f[0] or given_s[0].rstrip(".") == given_f[0][:1]
    return True


def cluster(hits: list[PersonHit]) -> list[list[PersonHit]]:
    """Group sightings of the same person; the longest names lead their groups."""
    order = sorted(range(len(hits)), key=lambda k: (-len(hits[k].words), k))
    groups: list[list[PersonHit]] = []
    for k in order:
        h = hits[k]
        fits = [g for g in groups if _compatible(h.words, g[0].words)]
        if len(fits) == 1 or len(fits) > 1 and len({tuple(g[0].words) for g in fits}) == 1:
            fits[0].append(h)
        else:
            groups.append([h])  # new person, or ambiguous surname ('Mr. Kim' with two Kims)
    return groups


def person_record(group: list[PersonHit]) -> dict[str, Any]:
    lead = group[0]
    affiliations: list[str] = []
    titles: list[str] = []
    countries: list[str] = []
    honorific = None
    for h in group:
        affiliations += [a for a in h.affiliations if a not in affiliations]
        titles += [t for t in h.titles if t not in titles]
        countries += [c for c in h.countries if c not in countries]
        honorific = honorific or h.honorific
    return {"id": person_id(lead.name), "name": lead.name, "honorific": honorific,
            "affiliations": affiliations, "titles": titles, "countries": countries}


# -- combining across documents -------------------------------------------------------------
# A person as the catalog stores it (kb.store.Catalog.put_person): the name, and as data the
# lists below (each a union over the documents), the person page's one `country`, and one
# appearance per document {doc_id, year, title, roles}. A document's record of a person
# (person_record, the tagger's people_of) has the same lists but one `honorific`.
PERSON_LISTS = ("affiliations", "titles", "honorifics", "countries")


def fold_person(stored: dict[str, Any] | None, seen: dict[str, Any], doc_id: str, year: int | None,
                title: str | None) -> tuple[str, dict[str, Any]]:
    """The one rule for a person seen in a document: fold `seen` into the `stored` record
    (Catalog.get_person, or None) and return the (name, data) to store. Lists accumulate
    without repeats, the honorific joins `honorifics`, the document becomes (or replaces) one
    appearance with the titles seen there as its roles, the latest name wins."""
    old = dict(stored or {})
    data = {k: v for k, v in old.items() if k not in ("id", "name")}
    for key in PERSON_LISTS:
        merged = list(data.get(key, []))
        merged += [v for v in dict.fromkeys(seen.get(key) or []) if v not in merged]
        data[key] = merged
    if seen.get("honorific") and seen["honorific"] not in data["honorifics"]:
        data["honorifics"].append(seen["honorific"])
    appearances = [a for a in data.get("appearances", []) if a.get("doc_id") != doc_id]
    appearances.append({"doc_id": doc_id, "year": year, "title": title, "roles": list(seen.get("titles") or [])})
    data["appearances"] = appearances
    if data["countries"] and not data.get("country"):
        data["country"] = data["countries"][0]  # the person page shows one country
    return seen.get("name") or old.get("name") or seen["id"], data

