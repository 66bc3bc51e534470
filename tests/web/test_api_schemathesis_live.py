"""schemathesis 4 as a user runs it (`schemathesis run URL --checks all`) against a live
`kb serve` on a free loopback port, with a write token, so reads and token-protected writes
(upload, delete, curation) are generated, sent and checked: status codes, content types,
bodies and headers as documented, schema-valid requests accepted and schema-violating ones
rejected, stateful sequences (list → open → delete). Bounded: a fixed number of examples
per operation and a time limit. The server's home is a copy, so its deletions reach no
other test."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("schemathesis")

MAX_EXAMPLES = 10
SEED = int(os.environ.get("KB_SCHEMATHESIS_SEED", "16"))

# Two answers no schema can predict, added to schemathesis's defaults: whether an upload is
# accepted depends on the file's content (its format, whether it holds text): 415 and 422; and
# a request line longer than gunicorn's limit (8 KB) is a 414 from gunicorn before kb sees it,
# which a long enough schema-valid query (1,000 four-byte characters, percent-encoded) can reach.
CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "414", "429"]

[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "414", "415", "422", "428", "429"]

[[operations]]
include-operation-id = "uploadDocument"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "413", "414", "415", "422"]
"""


def test_schemathesis_checks_all_pass_against_a_live_server(live_writable, tmp_path):
    spec_url = live_writable.url("/api/v1/openapi.json")
    with urllib.request.urlopen(spec_url, timeout=30) as r:
        spec = json.load(r)
    operations = sum(len(ops) for ops in spec["paths"].values())
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    cmd = [str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(config), "run", spec_url,
           "--checks", "all", "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED),
           "--header", f"Authorization: Bearer {live_writable.token}", "--no-color"]
    # cwd: schemathesis keeps its replay cache in ./.schemathesis
    res = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-6000:]
    assert f"Tested: {operations}" in out, out[-3000:]
    assert re.search(r"\b\d+ generated\b", out) and "failure" not in out.split("SUMMARY")[-1], out[-3000:]
