"""`kb export` and `kb token` through the real command line (web.cli.main)."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.web.apikit import small_corpus
from web.cli import main


def test_kb_export_writes_every_match_with_filters(tmp_path, capsys):
    info = small_corpus(tmp_path / "home")
    out = tmp_path / "out.jsonl"
    assert main(["--home", info["home"], "export", "broadband", "--format", "jsonl", "-o", str(out)]) == 0
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert {tuple(r) for r in lines} == {tuple(lines[0])} and "passage_id" in lines[0]  # one shape
    docs = {r["doc_id"] for r in lines}
    assert docs == {"doc-seoul", "doc-almaty", "doc-notes"}
    side = json.loads(Path(str(out) + ".provenance.json").read_text(encoding="utf-8"))
    assert side["query"] == "broadband" and side["format"] == "jsonl" and side["passages"] == len(lines)
    assert side["build_id"] and side["exported_at"]
    capsys.readouterr()

    assert main(["--home", info["home"], "export", "", "--country", "KAZ", "--format", "csv"]) == 0
    captured = capsys.readouterr()
    rows = list(csv.reader(io.StringIO(captured.out, newline="")))
    assert rows[0][0] == "passage_id"  # RFC 4180: the header row first
    assert sorted(r[0] for r in rows[1:]) == ["doc-almaty-0", "doc-seoul-1"]
    side = json.loads(captured.err)  # without -o the provenance goes to standard error
    assert side["filters"] == {"country": ["KAZ"]} and side["passages"] == 2

    assert main(["--home", info["home"], "export", "", "--country", "KAZ", "--format", "csv",
                 "--inline-provenance"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out, newline="")))
    assert "country=KAZ" in rows[0][0] and rows[1][0] == "passage_id"


def test_kb_export_bad_format_is_usage_error(tmp_path, capsys):
    info = small_corpus(tmp_path / "home")
    try:
        main(["--home", info["home"], "export", "x", "--format", "pdf"])
    except SystemExit as exc:
        assert exc.code == 2
    else:
        raise AssertionError("argparse accepted an unknown format")


def test_kb_token_create_list_revoke(tmp_path, capsys):
    home = str(tmp_path / "home")
    assert main(["--home", home, "token", "create", "--name", "ci"]) == 0
    captured = capsys.readouterr()
    token = captured.out.strip()
    assert token.startswith("kb_") and "shown only this once" in captured.err
    assert main(["--home", home, "token", "list"]) == 0
    listing = capsys.readouterr().out
    assert "ci" in listing and token not in listing
    assert main(["--home", home, "token", "revoke", "ci"]) == 0
    assert main(["--home", home, "token", "revoke", "ci"]) == 1  # nothing left to revoke
    from kb.auth import verify_token
    from kb.errors import AuthError
    from kb.store import Catalog

    cat = Catalog(Path(home) / "catalog.sqlite")
    try:
        verify_token(cat, token)
    except AuthError:
        pass
    else:
        raise AssertionError("revoked token still verifies")
    finally:
        cat.close()
