"""The OpenSearch client's keep-alive connection (kb/search/opensearch/keepalive.py): chosen for
plain-HTTP clusters without credentials; a kept-alive connection the server closed while idle
is replaced once, transparently; a node that does not answer is the client's ConnectionError
(so the client fails over); the cluster's refusals keep their kb errors."""
from __future__ import annotations

import http.server
import socket
import threading
import uuid
from collections.abc import Iterator
from typing import ClassVar

import pytest
from opensearchpy import Urllib3HttpConnection
from opensearchpy.exceptions import ConnectionError as ClientConnectionError

from kb.errors import BackendUnavailableError, NotFoundError
from kb.search.opensearch.client import call, make_client
from kb.search.opensearch.keepalive import KeepAliveConnection


class _ClosingHandler(http.server.BaseHTTPRequestHandler):
    """Answers HTTP/1.1 without `Connection: close`, then closes the socket anyway: what a node
    does to a connection that stayed idle past its keep-alive timeout."""

    protocol_version = "HTTP/1.1"
    served: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.served.append(self.path)
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def closing_server() -> Iterator[int]:
    _ClosingHandler.served = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ClosingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_a_connection_closed_while_idle_is_replaced_once(closing_server):
    conn = KeepAliveConnection("127.0.0.1", closing_server, timeout=5)
    answers = [conn.perform_request("GET", f"/r{i}") for i in range(3)]
    assert [a[0] for a in answers] == [200, 200, 200]
    assert all(a[2] == '{"ok": true}' for a in answers)
    # each request reached the server once: the retry went out only after the close
    assert _ClosingHandler.served == ["/r0", "/r1", "/r2"]
    conn.close()


def test_a_node_that_does_not_answer_is_a_connection_error():
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    conn = KeepAliveConnection("127.0.0.1", port, timeout=2)
    with pytest.raises(ClientConnectionError):
        conn.perform_request("GET", "/")
    client = make_client({"opensearch_url": f"http://127.0.0.1:{port}"})
    with pytest.raises(BackendUnavailableError, match="no OpenSearch node answered"):
        call(client.count)


def test_the_keep_alive_connection_only_for_plain_http_without_credentials():
    def kind(settings: dict) -> type:
        return type(make_client(settings).transport.connection_pool.connections[0])

    assert kind({"opensearch_url": "http://127.0.0.1:9200,http://127.0.0.1:9201"}) is KeepAliveConnection
    assert kind({"opensearch_url": "http://127.0.0.1:9200", "opensearch_user": "kb",
                 "opensearch_password": "secret"}) is Urllib3HttpConnection
    assert kind({"opensearch_url": "https://127.0.0.1:9200"}) is Urllib3HttpConnection


def test_the_cluster_answers_and_refusals_through_it(opensearch_urls):
    client = make_client({"opensearch_url": ",".join(opensearch_urls)})
    assert isinstance(client.transport.connection_pool.connections[0], KeepAliveConnection)
    for _ in range(3):  # the same kept-alive connection, several requests
        assert call(client.cluster.health)["number_of_nodes"] >= 1
    with pytest.raises(NotFoundError, match="index_not_found"):
        call(client.search, index=f"kbtest-missing-{uuid.uuid4().hex[:8]}", body={"query": {"match_all": {}}})
