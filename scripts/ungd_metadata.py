"""Build corpus/ungd-2024/metadata.csv (the UNGD 2024 speeches' sidecar) from the UN General
Debate Corpus speakers list (Speakers_by_session.xlsx, CC0), session 79.

    python scripts/ungd_metadata.py [SPEAKERS.xlsx] [--speeches corpus/ungd-2024]

The spreadsheet defaults to ../shared/texts/ungd-2024/Speakers_by_session.xlsx beside the
repository (or $KB_SHARED/texts/ungd-2024/...). Each speech file ISO3_79_2024.txt gets its title
("Kazakhstan — statement by <speaker>, <post>, 79th session ..."), date, speaker (a person with
their post and country), country, collection and source. `EU` is the European Union: an
organisation, so the speaker gets it as affiliation and the row no country. Spreadsheet rows
without a speech (DMA in 2024) and speeches without a row are reported, not invented.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SESSION, YEAR = 79, 2024
COLLECTION = "UN General Debate 2024"
SOURCE = "https://doi.org/10.7910/DVN/0TJX8Y"  # UN General Debate Corpus, Harvard Dataverse
DATE = "2024-09"  # the debate ran 24-28 and 30 September 2024; the list gives no day per speaker
ORGANISATIONS = {"EU": "European Union"}  # codes in the list that are not countries


def _default_xlsx() -> Path:
    shared = Path(os.environ.get("KB_SHARED", REPO.parent / "shared"))
    return shared / "texts" / "ungd-2024" / "Speakers_by_session.xlsx"


def speakers(xlsx: Path) -> dict[str, dict[str, str]]:
    """ISO code -> {country, name, post} for the session's rows."""
    from openpyxl import load_workbook

    wb = load_workbook(xlsx, read_only=True)
    rows = wb.worksheets[0].iter_rows(values_only=True)
    header = [str(c or "").strip() for c in next(rows)]
    col = {name: header.index(name) for name in ("Session", "ISO Code", "Country", "Name of Person Speaking", "Post")}
    out: dict[str, dict[str, str]] = {}
    for row in rows:
        if len(row) <= max(col.values()) or str(row[col["Session"]]).strip() != str(SESSION):
            continue
        code = str(row[col["ISO Code"]] or "").strip()
        clean = {k: " ".join(str(row[col[k]] or "").split()) for k in ("Country", "Name of Person Speaking", "Post")}
        out[code] = {"country": clean["Country"], "name": clean["Name of Person Speaking"], "post": clean["Post"]}
    return out


def rows(people: dict[str, dict[str, str]], speeches: Path) -> tuple[list[dict[str, str]], list[str]]:
    files = sorted(p.name for p in speeches.glob(f"*_{SESSION}_{YEAR}.txt"))
    out, notes = [], []
    for name in files:
        code = name.split("_", 1)[0]
        who = people.get(code)
        if who is None:
            notes.append(f"{name}: no row for {code} in session {SESSION} of the speakers list; left untitled")
            continue
        org = ORGANISATIONS.get(code)
        where = org or who["country"]
        by = ", ".join(v for v in (who["name"], who["post"]) if v)
        title = f"{where} — statement by {by}, {SESSION}th session of the UN General Assembly general debate ({YEAR})"
        author = " | ".join([who["name"], "speaker", who["post"], "" if org else code, org or ""]).rstrip(" |")
        out.append({"file": name, "title": title, "date": DATE, "authors": author,
                    "country": "" if org else code, "collection": COLLECTION, "source_url": SOURCE,
                    "language": "en", "tags": "general debate; UN General Assembly"})
    for code in sorted(set(people) - {n.split("_", 1)[0] for n in files}):
        notes.append(f"{code} ({people[code]['country']}): in the speakers list, no speech file")
    return out, notes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("xlsx", nargs="?", type=Path, default=_default_xlsx())
    ap.add_argument("--speeches", type=Path, default=REPO / "corpus" / "ungd-2024")
    args = ap.parse_args(argv)
    if not args.xlsx.is_file():
        print(f"ungd_metadata: no speakers list at {args.xlsx}", file=sys.stderr)
        return 2
    out, notes = rows(speakers(args.xlsx), args.speeches)
    target = args.speeches / "metadata.csv"
    with open(target, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(out[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(out)
    for note in notes:
        print(f"  note: {note}")
    print(f"ungd_metadata: {len(out)} rows written to {target} ({len(notes)} note(s))")
    return 0


if __name__ == "__main__":
    sys.exit(main())
