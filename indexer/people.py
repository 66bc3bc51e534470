"""People: found by rules around honorifics, appositions and table rows; affiliations read
from the words around the name; merged within a document ("Mr. Aquaro" and "Vincenzo
Aquaro (DPADM)" are one person).

Works on a tokenised spaCy Doc plus the registry entities already found in it, so it adds
only a few Python steps per honorific, org or comma: the tagger stays fast.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from spacy.lang.en.stop_words import STOP_WORDS

from kb.entities.people import (  # noqa: F401 - re-exported for the tagger
    PARTICLES,
    PersonHit,
    cluster,
    join_name,
    person_record,
)

# Honorifics that make the next capitalised words a person's name (and not a country:
# "Mr. Sudan from the World Bank").
HONORIFICS = {
    "Mr.", "Mr", "Ms.", "Ms", "Mrs.", "Mrs", "Miss", "Dr.", "Dr", "Prof.", "Prof", "Professor",
    "H.E.", "HE", "Sir", "Dame", "Madam", "Madame", "Mme", "Mme.", "M.", "Sr.", "Sra.", "Dña.",
    "Excellency", "Messrs.", "Mx.",
}
# Titles that also work as honorifics when a name follows directly ("Minister Kim").
TITLES = {
    "Minister", "Ambassador", "President", "Director", "Secretary-General", "Chairman",
    "Chairperson", "Chair", "Dean", "Commissioner", "Governor", "Senator", "Judge", "King",
    "Queen", "Prince", "Princess", "Sheikh", "Emir", "Sultan", "Pope", "Vice-President",
}
# Words that begin an apposition that says what a person is ("Darrell West, Vice President of").
TITLE_WORDS = TITLES | {
    "Vice", "Deputy", "Assistant", "Associate", "Chief", "Head", "Secretary", "Senior",
    "Executive", "Manager", "Officer", "Adviser", "Advisor", "Representative", "Professor",
    "CEO", "CIO", "CTO", "Founder", "Partner", "Researcher", "Coordinator", "Counsellor",
    "Counselor", "Programme", "Program", "Under-Secretary-General", "Special", "Permanent",
    "Prime", "Former", "Lead", "Expert", "Consultant", "Staff", "Economist", "Specialist",
}
# Capitalised words that are never part of a name.
NOT_NAME = {w.capitalize() for w in STOP_WORDS} | TITLE_WORDS | {
    "General", "Presentation", "Session", "Track", "Annex", "Government", "Ministry",
    "Department", "Office", "National", "International", "United", "Nations", "Global",
    "Forum", "Republic", "State", "States", "Kingdom", "Council", "Assembly", "Today",
    "Excellencies", "Excellency", "Distinguished", "Colleagues", "Ladies", "Gentlemen",
    "Thank", "Madam", "Sir", "Mr", "Ms", "Mrs", "Dr", "Honourable", "Honorable", "Her", "His",
    "Majesty", "Highness", "Royal", "God", "Allah", "Lord", "Saint", "St",
}
LINKS = {"from", "of", "at", "with"}
MAX_NAME_WORDS = 4
_CONNECTORS = {"of", "for", "and", "&", "the", "on", "to", "in", "de", "du", "des", "del"}
APPOSITION_WORDS = {"of", "the", "and", "for", "on", "in", "&", "e", "de", "la", "del", "y", "et"}


def is_name_word(tok) -> bool:
    t = tok.text
    return (len(t) > 1 and t[0].isupper() and t.replace("-", "").replace("'", "").isalpha()
            and t not in NOT_NAME and not t.isupper())


def is_initial(tok) -> bool:
    return len(tok.text) == 2 and tok.text[0].isupper() and tok.text[1] == "."


def read_name(doc, i: int, allow_entity_first: bool = True) -> tuple[int, list[str]]:
    """Name words from token i on ('Eduardo E. Jean', 'Hyung-Kyu Maeng', 'De Jesus');
    returns (end token index, words)."""
    words: list[str] = []
    j = i
    n = len(doc)
    while j < n and len([w for w in words if w != "-"]) < MAX_NAME_WORDS:
        tok = doc[j]
        if is_name_word(tok) or (words and is_initial(tok)) or (not words and tok.text in ("De", "Van", "Von", "Al", "El", "Da")):
            words.append(tok.text.rstrip("-"))
            if tok.text.endswith("-") and j + 1 < n and is_name_word(doc[j + 1]):
                words[-1] += "-"
            j += 1
        elif (words and tok.text == "-" and not tok.whitespace_ and j + 1 < n and is_name_word(doc[j + 1])
              and not doc[j - 1].whitespace_):
            words[-1] += "-"
            j += 1
        elif words and tok.text.lower() in PARTICLES and j + 1 < n and is_name_word(doc[j + 1]):
            words.append(tok.text)
            j += 1
        else:
            break
    while words and words[-1].lower() in PARTICLES:  # never end on a particle
        words.pop()
        j -= 1
    return j, join_name(words).split()


def build_matcher(vocab):
    """A spaCy Matcher for the anchors of the person rules, so that only the few tokens
    around an honorific or a ', Title' are looked at in Python."""
    # A PhraseMatcher (hash look-ups) is several times faster than token patterns here.
    from spacy.matcher import PhraseMatcher
    from spacy.tokens import Doc

    m = PhraseMatcher(vocab, attr="ORTH")
    m.add("HON", [Doc(vocab, words=[w]) for w in sorted(HONORIFICS | TITLES)])
    m.add("APPOS", [Doc(vocab, words=[",", w]) for w in sorted(TITLE_WORDS)])
    return m


def find_people(doc, ents: dict[int, tuple[int, str, str]], passage: int = 0,
                matcher=None) -> list[PersonHit]:
    """Person sightings in a tokenised doc. ``ents`` maps a start token to (end token, type,
    id) of the registry entities found there."""
    matcher = matcher or build_matcher(doc.vocab)
    hits: list[PersonHit] = []
    taken: set[int] = set()
    n = len(doc)
    hon_id = doc.vocab.strings["HON"]
    ends: set[int] = set()  # token after a name without honorific: '(', ',', 'from'
    for match_id, i, _e in matcher(doc):
        if match_id != hon_id:
            ends.add(i)
            continue
        if i in taken or (doc[i].text not in HONORIFICS and not (i + 1 < n and doc[i + 1].is_title)):
            continue  # a title ('Minister') counts only before a capitalised word
        j = i + 1
        while j < n and (doc[j].text in HONORIFICS or doc[j].text in TITLES):
            j += 1  # "H.E. Mr.", "Minister Dr."
        end, words = read_name(doc, j)
        if not words:
            continue
        hit = PersonHit(doc[j].idx, doc[end - 1].idx + len(doc[end - 1].text), words,
                        honorific=_honorific(doc, i, j), passage=passage)
        taken.update(range(i, end))
        _affiliation_after(doc, end, ents, hit)
        _affiliation_before(doc, i, ents, hit)
        hits.append(hit)
    # names without honorific: "Vincenzo Aquaro (DPADM)", "Darrell West, Vice President of ...",
    # "Ahmed Alkhiary from UNDESA"
    for s, (_e, typ, _id) in ents.items():
        if typ != "org" or s < 2:
            continue
        before = doc[s - 1].lower_
        if before in ("(", "from", "of"):
            ends.add(s - 1)
        elif before == "the" and doc[s - 2].lower_ in ("from", "of"):
            ends.add(s - 2)
    for end in sorted(ends):
        i = end
        while i > 0 and (is_name_word(doc[i - 1]) or is_initial(doc[i - 1]) or doc[i - 1].text == "-"
                         or (doc[i - 1].lower_ in PARTICLES and i - 1 > 0 and is_name_word(doc[i - 2]))):
            i -= 1
            if end - i > 2 * MAX_NAME_WORDS:
                break
        if i == end or i in taken or i in ents or not is_name_word(doc[i]):
            continue
        if i > 0 and doc[i - 1].text in HONORIFICS:
            continue
        if i > 1 and doc[i - 1].lower_ in _CONNECTORS and doc[i - 2].text[:1].isupper():
            continue  # inside a longer name: 'Ministry of Knowledge Economy (MKE)'
        stop, words = read_name(doc, i)
        if stop != end or len([w for w in words if not w.endswith(".")]) < 2 or any(k in ents for k in range(i, end)):
            continue
        nxt = doc[end].text
        nxt2 = doc[end + 1].text if end + 1 < n else ""
        cue = ((nxt == "(" and end + 1 in ents and ents[end + 1][1] == "org")
               or (nxt == "," and nxt2 in TITLE_WORDS)
               or (nxt in ("from", "of") and _org_at(doc, end + 1, ents) is not None))
        if not cue:
            continue
        hit = PersonHit(doc[i].idx, doc[end - 1].idx + len(doc[end - 1].text), words, passage=passage)
        taken.update(range(i, end))
        _affiliation_after(doc, end, ents, hit)
        hits.append(hit)
    return hits


def _honorific(doc, i: int, j: int) -> str | None:
    parts = [doc[k].text for k in range(i, j)]
    hon = [p for p in parts if p in HONORIFICS]
    return hon[-1] if hon else None


def _org_at(doc, k: int, ents) -> str | None:
    """The org id starting at token k (after an optional 'the')."""
    e = ents.get(k)
    if e is None and k < len(doc) and doc[k].lower_ == "the":
        e = ents.get(k + 1)
    return e[2] if e and e[1] == "org" else None


def _affiliation_after(doc, k: int, ents, hit: PersonHit) -> None:
    n = len(doc)
    while k < n and doc[k].text in ("'s", "\u2019s", "'", "\u2019"):
        k += 1  # "Mr. De Jesus' (UNDESA)"
    if k >= n:
        return
    if doc[k].text == "(":  # "(Director of UNDESA)", "(DPADM)"
        j = k + 1
        title: list[str] = []
        while j < n and doc[j].text != ")" and j - k < 25:
            e = ents.get(j)
            if e:
                _add(hit, e)
                j = e[0]
                continue
            if not hit.affiliations and doc[j].text[:1].isupper():
                title.append(doc[j].text)
            j += 1
        if title:
            hit.titles.append(" ".join(title))
        return
    if doc[k].text == "," and k + 1 < n and doc[k + 1].lower_ in LINKS:
        k += 1  # "Mr. Sudan, from the World Bank"
    if doc[k].lower_ in LINKS:
        org = _org_at(doc, k + 1, ents)
        if org:
            _add(hit, ents[k + 1] if k + 1 in ents else ents[k + 2])
        return
    if doc[k].text == ",":  # apposition: ", Vice President of the Brookings Institution,"
        j = k + 1
        title: list[str] = []
        while j < n and j - k < 40:
            e = ents.get(j)
            if e:
                _add(hit, e)
                j = e[0]
                continue
            t = doc[j]
            if t.is_sent_end or t.text in (".", ";", ":"):
                break
            if t.text[:1].isupper() or t.text in (",", "(", ")", "/", "-") or t.lower_ in APPOSITION_WORDS:
                if not hit.affiliations and not hit.countries and t.text[:1].isupper():
                    title.append(t.text)
                j += 1
                continue
            break
        if title and (title[0] in TITLE_WORDS):
            hit.titles.append(" ".join(title))


def _affiliation_before(doc, i: int, ents, hit: PersonHit) -> None:
    """'the Minister of MOPAS, Mr. Hyung-Kyu Maeng' — title and org just before the name."""
    if i < 3 or doc[i - 1].text != ",":
        return
    for start, (end, typ, ent_id) in ents.items():
        if end == i - 1 and typ == "org" and start >= 1 and doc[start - 1].lower_ == "of":
            _add(hit, (end, typ, ent_id))
            k = start - 2
            words = []
            while k >= 0 and doc[k].text[:1].isupper() and doc[k].text in TITLE_WORDS:
                words.insert(0, doc[k].text)
                k -= 1
            if words:
                hit.titles.append(" ".join(words))
            return


def _add(hit: PersonHit, ent: tuple[int, str, str]) -> None:
    _end, typ, ent_id = ent
    if typ == "org" and ent_id not in hit.affiliations:
        hit.affiliations.append(ent_id)
    elif typ == "country" and ent_id not in hit.countries:
        hit.countries.append(ent_id)


# -- table rows ---------------------------------------------------------------------------
_NAME_KEYS = {"name", "full name", "participant", "speaker", "person"}
_FIRST_KEYS = {"first name", "given name", "first"}
_LAST_KEYS = {"last name", "surname", "family name", "last"}
_ORG_KEYS = {"organization", "organisation", "affiliation", "agency", "institution", "org"}
_TITLE_KEYS = {"title", "position", "function", "role", "status"}


class TableReader:
    """Reads participant tables: markdown rows under a header row, or 'Key: value | ...' rows.
    Keeps the last header seen, so rows split into separate passages still parse."""

    def __init__(self) -> None:
        self.header: list[str] | None = None

    def rows(self, text: str) -> Iterable[tuple[dict[str, tuple[int, int, str]], int]]:
        """Yield ({column: (start, end, value)}, line start) for each data row in text."""
        pos = 0
        for line in text.splitlines(keepends=True):
            start = pos
            pos += len(line)
            if "|" not in line:
                continue
            cells = _cells(line, start)
            if not cells:
                continue
            if all(re.fullmatch(r":?-{2,}:?", c[2]) for c in cells if c[2]):
                continue  # the |---|---| rule
            if any(":" in c[2] for c in cells) and any(c[2].split(":", 1)[0].strip().lower() in
                                                      _NAME_KEYS | _FIRST_KEYS | _LAST_KEYS for c in cells):
                row = {}
                for s, e, v in cells:
                    if ":" in v:
                        key, val = v.split(":", 1)
                        off = s + v.index(":") + 1
                        lead = len(val) - len(val.lstrip())
                        row[key.strip().lower()] = (off + lead, e, val.strip())
                yield row, start
                continue
            lowered = [c[2].lower() for c in cells]
            if any(v in _NAME_KEYS | _FIRST_KEYS | _LAST_KEYS for v in lowered):
                self.header = lowered
                continue
            if self.header and len(cells) == len(self.header):
                yield {h: c for h, c in zip(self.header, cells)}, start


def _cells(line: str, offset: int) -> list[tuple[int, int, str]]:
    body = line.rstrip("\r\n")
    out = []
    parts = body.split("|")
    pos = 0
    for idx, part in enumerate(parts):
        if (idx == 0 or idx == len(parts) - 1) and not part.strip():
            pos += len(part) + 1
            continue
        lead = len(part) - len(part.lstrip())
        out.append((offset + pos + lead, offset + pos + lead + len(part.strip()), part.strip()))
        pos += len(part) + 1
    return out


def table_person(row: dict[str, tuple[int, int, str]], resolve) -> tuple[PersonHit, str | None] | None:
    """A person from one parsed table row; resolve(text) -> [(type, id)] maps the org cell."""
    first = next((row[k] for k in _FIRST_KEYS if k in row), None)
    last = next((row[k] for k in _LAST_KEYS if k in row), None)
    full = next((row[k] for k in _NAME_KEYS if k in row), None)
    if full and full[2]:
        start, end, name = full
    elif last and last[2]:
        start = first[0] if first and first[2] else last[0]
        end = last[1]
        name = f"{first[2]} {last[2]}" if first and first[2] else last[2]
    else:
        return None
    name = re.sub(r"\([^)]*\)", " ", name)
    name = re.sub(r"\s*-\s*", "-", " ".join(name.split()))
    words = name.split()
    if not words or not all(w[:1].isupper() or w.lower() in PARTICLES for w in words):
        return None
    hit = PersonHit(start, end, words)
    org_cell = next((row[k] for k in _ORG_KEYS if k in row), None)
    org_text = None
    if org_cell and org_cell[2]:
        org_text = org_cell[2]
        for typ, ent_id in resolve(org_text):
            if typ == "org":
                hit.affiliations.append(ent_id)
                break
    title = next((row[k][2] for k in _TITLE_KEYS if k in row and row[k][2]), None)
    if title:
        hit.titles.append(title)
    return hit, org_text
