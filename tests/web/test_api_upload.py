"""POST /documents: a real upload is ingested and searchable; hostile files fail with their
reason and change nothing (catalog, index and uploads folder stay as they were)."""
from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from kb import auth
from kb.facade import KB
from tests.web.apikit import small_corpus
from web import create_app


@pytest.fixture
def env(tmp_path):
    info = small_corpus(tmp_path / "home")
    app = create_app({"home": info["home"], "upload_max_mb": 1})
    with KB({"home": info["home"]}) as kb:
        _, token = auth.create_token(kb.catalog, "uploader")
    return app.test_client(), {"Authorization": f"Bearer {token}"}, Path(info["home"])


def upload(client, headers, name: str, data: bytes):
    return client.post("/api/v1/documents", headers=headers,
                       data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def state(client, home: Path):
    docs = client.get("/api/v1/documents?per_page=100").get_json()
    search = client.get("/api/v1/search?per_page=1").get_json()
    uploads = sorted(p.name for p in (home / "uploads").glob("*")) if (home / "uploads").exists() else []
    with KB({"home": str(home)}) as kb:
        failures = kb.catalog.failures()
    return docs["total"], search["total"], uploads, failures


def test_text_upload_is_ingested_and_searchable(env):
    client, headers, home = env
    body = (b"Uruguay presented its zygomorphic digital identity programme.\n\n"
            b"The programme covers e-signature for all citizens.\n")
    resp = upload(client, headers, "../../evil name.txt", body)
    assert resp.status_code == 201, resp.data
    data = resp.get_json()
    assert data["status"] == "added" and data["document"]["format"] == "txt"
    doc_id = data["document"]["id"]
    saved = list((home / "uploads").iterdir())
    assert len(saved) == 1 and saved[0].name.endswith(".txt") and "evil" not in saved[0].name
    hits = client.get("/api/v1/search?q=zygomorphic").get_json()
    assert hits["total"] >= 1 and hits["results"][0]["doc_id"] == doc_id
    assert client.get(f"/api/v1/documents/{doc_id}/file").data == body
    again = upload(client, headers, "copy.txt", body)
    assert again.status_code == 200 and again.get_json()["status"] == "unchanged"
    assert len(list((home / "uploads").iterdir())) == 1
    # deleting an uploaded document removes the saved file too
    assert client.delete(f"/api/v1/documents/{doc_id}", headers=headers).status_code == 200
    assert list((home / "uploads").iterdir()) == []


def _zip_bomb_docx() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
        # 128 MiB of zeros deflate to ~130 KiB: past the max_inflate_mb of 64 set below
        member = zipfile.ZipInfo("word/media/blob.bin")
        member.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(member, "w") as fh:
            chunk = b"\0" * (1 << 20)
            for _ in range(128):
                fh.write(chunk)
    return buf.getvalue()


HOSTILE = {
    "random bytes named .pdf": ("report.pdf", os.urandom(4096)),
    "a PDF header and garbage": ("broken.pdf", b"%PDF-1.7\n" + os.urandom(2048)),
    "a zip that is no Office file": ("data.docx", None),
    "legacy OLE": ("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 1024),
    "empty": ("empty.txt", b""),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_upload_fails_with_reason_and_changes_nothing(env, case):
    client, headers, home = env
    name, data = HOSTILE[case]
    if data is None:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("hello.txt", "not office")
        data = buf.getvalue()
    before = state(client, home)
    resp = upload(client, headers, name, data)
    assert 400 <= resp.status_code < 500, resp.data
    assert resp.mimetype == "application/problem+json"
    detail = resp.get_json()["detail"]
    assert detail and "Traceback" not in detail and str(home) not in detail
    assert state(client, home) == before


def test_zip_bomb_docx_fails_and_changes_nothing(env):
    client, headers, home = env
    app = create_app({"home": str(home), "upload_max_mb": 8, "max_inflate_mb": 64})
    client = app.test_client()
    before = state(client, home)
    resp = upload(client, headers, "bomb.docx", _zip_bomb_docx())
    assert resp.status_code == 422, resp.data
    assert resp.get_json()["detail"]
    assert state(client, home) == before


def test_oversized_upload_is_413(env):
    client, headers, home = env
    before = state(client, home)
    resp = upload(client, headers, "big.txt", b"a" * (1024 * 1024 + 200 * 1024))
    assert resp.status_code == 413 and resp.mimetype == "application/problem+json"
    assert state(client, home) == before


def test_upload_without_file_part_or_token(env):
    client, headers, home = env
    assert client.post("/api/v1/documents", headers=headers, data={"x": "y"}).status_code == 400
    assert upload(client, {}, "a.txt", b"hello").status_code == 401
    assert upload(client, {"Authorization": "Bearer kb_forged"}, "a.txt", b"hello").status_code == 401
    assert not (home / "uploads").exists() or not any((home / "uploads").iterdir())
