"""The opensearch-py client built from kb's settings, and the one place where the client's
errors become kb errors: a cluster that cannot be reached is BackendUnavailableError (the
web layer answers 503 "search backend unavailable"); a request the cluster refuses is
InvalidQueryError or IndexError_, each with a one-line reason."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import orjson
from opensearchpy import ConnectionSelector, JSONSerializer, OpenSearch
from opensearchpy import exceptions as oe

from kb.errors import BackendUnavailableError, IndexError_, InvalidQueryError, NotFoundError
from kb.search.opensearch.keepalive import KeepAliveConnection

T = TypeVar("T")
# Failover: a request that fails on one node is retried on the next (the client marks the
# dead node and skips it until its timeout expires).
MAX_RETRIES = 3
REQUEST_TIMEOUT_S = 30


def node_urls(settings: Mapping[str, Any]) -> list[str]:
    urls = [u.strip() for u in str(settings.get("opensearch_url") or "").split(",") if u.strip()]
    if not urls:
        raise BackendUnavailableError("search backend unavailable: no opensearch_url is set")
    return urls


def public_url(url: str) -> str:
    """A node URL without any user:password part, fit for logs and `kb stats`."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class FastJSON(JSONSerializer):
    """The client's JSON through orjson: a search answer is tens of kilobytes (the page's texts
    and snippets, the facets), and the standard library decodes it several times slower.
    Anything orjson refuses (a type it does not know) goes to the client's own serializer."""

    def loads(self, s: str) -> Any:
        try:
            return orjson.loads(s)
        except orjson.JSONDecodeError:
            return super().loads(s)

    def dumps(self, data: Any) -> Any:
        if isinstance(data, (str, bytes)):
            return data
        try:
            # str, not bytes: the bulk helper joins the items' lines as strings
            return orjson.dumps(data).decode()
        except TypeError:
            return super().dumps(data)


class StickySelector(ConnectionSelector):
    """Every request of a process to the same live node (the client shuffles the nodes once
    per process, so processes spread over the nodes). With the search preference `_local`
    (backend.py) a node answers from its own shard copies: no hop to another node, and one
    process reads one copy, so its scores never mix two copies' statistics. A node that fails
    leaves the live list, and the next one takes over."""

    def select(self, connections: Sequence[Any]) -> Any:
        return connections[0]


def make_client(settings: Mapping[str, Any]) -> OpenSearch:
    kwargs: dict[str, Any] = {
        "hosts": node_urls(settings),
        "serializer": FastJSON(),
        "selector_class": StickySelector,
        "retry_on_timeout": True,
        "max_retries": MAX_RETRIES,
        "timeout": REQUEST_TIMEOUT_S,
        # 502/503/504 from one node (it is leaving the cluster) are retried on another
        "retry_on_status": (502, 503, 504),
    }
    user, password = settings.get("opensearch_user"), settings.get("opensearch_password")
    if user:
        kwargs["http_auth"] = (str(user), str(password or ""))
    ca_certs = settings.get("opensearch_ca_certs")
    if ca_certs:
        kwargs.update(use_ssl=True, verify_certs=True, ca_certs=str(ca_certs))
    if not user and not ca_certs and all(urlsplit(u).scheme == "http" for u in kwargs["hosts"]):
        kwargs["connection_class"] = KeepAliveConnection  # TLS and credentials: urllib3's
    return OpenSearch(**kwargs)


def reason(exc: oe.TransportError) -> str:
    """The cluster's own one-line reason for a refused request."""
    info = exc.info if isinstance(exc.info, dict) else {}
    err = info.get("error")
    if isinstance(err, dict):
        causes = err.get("root_cause") or [err]
        first = causes[0] if causes else err
        return f"{first.get('type', 'error')}: {first.get('reason', '')}".strip()
    return str(exc.error or exc)[:300]


def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one client call, turning the client's errors into kb errors."""
    try:
        return fn(*args, **kwargs)
    except (oe.ConnectionError, oe.ConnectionTimeout) as exc:
        raise BackendUnavailableError("search backend unavailable: no OpenSearch node answered") from exc
    except oe.NotFoundError as exc:
        raise NotFoundError(f"search backend: {reason(exc)}") from exc
    except oe.RequestError as exc:  # 400: the request itself is wrong (a query, a value)
        raise InvalidQueryError(f"the search backend refused the query: {reason(exc)}") from exc
    except oe.TransportError as exc:
        status = exc.status_code if isinstance(exc.status_code, int) else 0
        if status in (502, 503, 504) or status == 0:
            raise BackendUnavailableError("search backend unavailable: the cluster did not answer") from exc
        raise IndexError_(f"search backend error {status}: {reason(exc)}") from exc


def msearch(client: OpenSearch, index: str, bodies: list[dict[str, Any]], preference: str | None = None,
            filter_path: str | None = None) -> list[dict[str, Any]]:
    """Several searches in one round trip; one the cluster refuses fails the whole, with the
    error search() would raise for it. `preference` and `filter_path` as for one search."""
    head: dict[str, Any] = {"index": index, **({"preference": preference} if preference else {})}
    lines: list[dict[str, Any]] = []
    for body in bodies:
        lines += [head, body]
    params = {}
    if filter_path:
        params["filter_path"] = ",".join(f"responses.{p}" for p in [*filter_path.split(","), "error", "status"])
    answers = call(client.msearch, body=lines, params=params)["responses"]
    for answer in answers:
        err = answer.get("error")
        if err is None:
            continue
        first = ((err.get("root_cause") or [err])[0] if isinstance(err, dict) else {"reason": str(err)})
        why = f"{first.get('type', 'error')}: {first.get('reason', '')}".strip()
        status = int(answer.get("status") or 0)
        if status == 400:
            raise InvalidQueryError(f"the search backend refused the query: {why}")
        raise IndexError_(f"search backend error {status}: {why}")
    return answers
