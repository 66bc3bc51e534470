"""Response headers every response carries, and CORS for reads of the API.

The policy allows scripts, styles and images from this origin only: no inline script or
style (no 'unsafe-inline'), no framing (clickjacking), no plugins, no <base> rewriting.
Pages must therefore load their JS/CSS from /static. Downloads of original files get a
sandboxing policy on top, so an uploaded HTML file opened by mistake cannot run anything.
"""
from __future__ import annotations

from flask import Flask, Response, request

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
DOWNLOAD_CSP = "default-src 'none'; sandbox; frame-ancestors 'none'"

READ_METHODS = ("GET", "HEAD", "OPTIONS")


def add_headers(resp: Response) -> Response:
    # setdefault: a view may set a stricter policy (file downloads do).
    resp.headers.setdefault("Content-Security-Policy", CSP)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "same-origin"
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.path.startswith("/api/") and request.method in READ_METHODS:
        # Reads are open to any origin; writes stay same-origin (no credentials are shared).
        resp.headers["Access-Control-Allow-Origin"] = "*"
        resp.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
        resp.headers["Access-Control-Expose-Headers"] = ("Content-Disposition, Retry-After, Link, X-KB-Query, "
                                                         "X-KB-Filters, X-KB-Sort, X-KB-Index-Build, X-KB-Exported-At")
    return resp


def register(app: Flask) -> None:
    app.after_request(add_headers)
