"""The development cluster that scripts/opensearch.py starts: two nodes, the analysers the
backend's mapping names, and `up` reusing a running cluster instead of starting another."""
from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import pytest

from tests.opensearch_cluster import SCRIPT

LANGUAGE_ANALYSERS = ["english", "french", "spanish", "russian", "arabic", "cjk"]


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def analyse(url: str, analyser: str, text: str) -> list[str]:
    body = json.dumps({"analyzer": analyser, "text": text}).encode()
    request = urllib.request.Request(f"{url}/_analyze", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return [t["token"] for t in json.loads(response.read())["tokens"]]


def test_every_url_is_a_node_of_one_cluster_of_two(opensearch_urls):
    assert len(opensearch_urls) >= 2
    uuids = {get(url)["cluster_uuid"] for url in opensearch_urls}
    assert len(uuids) == 1
    health = get(f"{opensearch_urls[0]}/_cluster/health")
    assert health["number_of_nodes"] >= 2
    assert health["status"] in ("green", "yellow")


@pytest.mark.parametrize("analyser", LANGUAGE_ANALYSERS)
def test_language_analysers_are_installed(opensearch_urls, analyser):
    samples = {"english": ("governments", "govern"), "french": ("gouvernements", "gouvern"),
               "spanish": ("gobiernos", "gobiern"), "russian": ("правительства", "правительств"),
               "arabic": ("الحكومة", "حكوم"), "cjk": ("电子政务", "电子")}
    text, expected = samples[analyser]
    assert expected in analyse(opensearch_urls[0], analyser, text)


def test_up_reuses_the_running_cluster(opensearch_urls):
    if "127.0.0.1" not in opensearch_urls[0]:
        pytest.skip("KB_OPENSEARCH_URL names a cluster this script did not start")
    done = subprocess.run([sys.executable, str(SCRIPT), "up"], check=False, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "reusing the running cluster" in done.stderr
    assert done.stdout.strip().splitlines()[-1] == ",".join(opensearch_urls)
