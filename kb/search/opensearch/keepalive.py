"""A lean HTTP connection for the OpenSearch client: one keep-alive http.client connection per
node and thread, instead of urllib3's pool, retry and URL-normalising layers, which cost about
as much CPU per search as decoding the answer (bench/api_split.py measures the client's share).

Used for plain-HTTP clusters without credentials (the client falls back to its own urllib3
connection for HTTPS or a user). The client's failover is unchanged: a node that cannot be
reached raises the client's ConnectionError (ConnectionTimeout on a timeout), so the client
marks it dead and retries the request on the next node.
"""
from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import urlencode

from opensearchpy import Connection
from opensearchpy.exceptions import ConnectionError as ClientConnectionError
from opensearchpy.exceptions import ConnectionTimeout


class KeepAliveConnection(Connection):
    def __init__(self, host: str = "localhost", port: int | None = None, **kwargs: Any) -> None:
        super().__init__(host=host, port=port, **kwargs)
        self._local = threading.local()

    def _connection(self, timeout: float) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection to the node, and whether it has served a request before."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.timeout = timeout
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
            return conn, True
        conn = http.client.HTTPConnection(self.hostname, self.port, timeout=timeout)
        conn.connect()
        # small requests go out at once (urllib3 sets the same)
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._local.conn = conn
        return conn, False

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def perform_request(self, method: str, url: str, params: Mapping[str, Any] | None = None,
                        body: bytes | None = None, timeout: float | None = None,
                        ignore: Collection[int] = (), headers: Mapping[str, str] | None = None) -> Any:
        path = self.url_prefix + url + (f"?{urlencode(params)}" if params else "")
        sent = {**self.headers, **(headers or {})}
        start = time.time()
        for attempt in (1, 2):
            reused = False
            try:
                conn, reused = self._connection(timeout or self.timeout)
                conn.request(method, path, body, sent)
                response = conn.getresponse()
                raw = response.read().decode("utf-8", "surrogatepass")
                break
            except TimeoutError as exc:
                self._drop()
                self.log_request_fail(method, self.host + path, path, body, time.time() - start, exception=exc)
                raise ConnectionTimeout("TIMEOUT", str(exc), exc) from exc
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                # a kept-alive connection the node closed while it was idle: once more on a new one
                if reused and attempt == 1:
                    continue
                self.log_request_fail(method, self.host + path, path, body, time.time() - start, exception=exc)
                raise ClientConnectionError("N/A", str(exc), exc) from exc
        duration = time.time() - start
        if response.will_close:
            self._drop()
        if not 200 <= response.status < 300 and response.status not in ignore:
            self.log_request_fail(method, self.host + path, path, body, duration, response.status, raw)
            self._raise_error(response.status, raw, response.getheader("content-type"))
        self.log_request_success(method, self.host + path, path, body, response.status, raw, duration)
        return response.status, dict(response.getheaders()), raw

    def close(self) -> None:
        self._drop()
