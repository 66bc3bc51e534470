"""OpenAPI 3.1 built from the code: every `api.*` route's docstring YAML (after ``---``) is an
operation, registered with apispec's plugin-less API together with the dict components of
web.api.schemas. /api/v1/docs renders the same document as a plain HTML page (no script,
no CDN), so the reference works offline and under the strict CSP."""
from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.yaml_utils import load_operations_from_docstring
from flask import Flask, Response, current_app, render_template_string

from web.api import schemas
from web.api.blueprint import bp
from web.api.common import ok

TITLE = "kb API"
VERSION = "1.0.0"
# Flask's variable names -> the public names in the document.
PATH_NAMES = {"doc_id": "id", "entity_id": "id", "type_": "type"}
_VAR = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")
HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def build_spec(app: Flask) -> dict[str, Any]:
    settings = app.config["KB_SETTINGS"]
    spec = APISpec(
        title=TITLE, version=VERSION, openapi_version="3.1.0",
        info={"description": "Passages, documents, entities and country dossiers of the kb knowledge base. "
                             "Reads are open (CORS *); writes need `Authorization: Bearer <token>` "
                             "(`kb token create --name NAME`). Every error is application/problem+json (RFC 9457). "
                             "Search pages reach every match once (plain result order unless max_per_document "
                             "asks for the UI's grouping, which drops nothing); CSV and JSONL exports are plain "
                             "(header first; one passage per line), their provenance in X-KB-* headers and at "
                             "meta=1. See docs/api-clients.md."},
    )
    for name, schema in schemas.SCHEMAS.items():
        spec.components.schema(name, schema)
    params = schemas.parameters(int(settings["max_page_size"]), int(settings["max_query_length"]))
    for name, param in params.items():
        spec.components.parameter(name, param["in"], {k: v for k, v in param.items() if k != "in"})
    for name, response in schemas.RESPONSES.items():
        spec.components.response(name, response)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})

    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.endpoint.startswith(bp.name + "."):
            continue
        view = app.view_functions[rule.endpoint]
        operations = load_operations_from_docstring(view.__doc__ or "")
        operations = {m: op for m, op in operations.items() if m in HTTP_METHODS}
        if not operations:
            continue
        for op in operations.values():
            op.setdefault("tags", [rule.rule.split("/")[3] if rule.rule.count("/") >= 3 else "api"])
            op.setdefault("responses", {}).setdefault("500", {"$ref": "#/components/responses/ServerError"})
            # Flask answers HEAD/OPTIONS itself; a wrong method is 405 with the same problem shape.
            op["responses"].setdefault("405", {"$ref": "#/components/responses/MethodNotAllowed"})
            # gunicorn answers an over-long request line itself, before the app sees it.
            op["responses"].setdefault("414", {"$ref": "#/components/responses/UriTooLong"})
        spec.path(path=openapi_path(rule.rule), operations=operations)
    return spec.to_dict()


def openapi_path(rule: str) -> str:
    """A Flask rule (/api/v1/documents/<doc_id>) as the document's path (/api/v1/documents/{id})."""
    return _VAR.sub(lambda m: "{" + PATH_NAMES.get(m.group(1), m.group(1)) + "}", rule)


def get_spec() -> dict[str, Any]:
    cache = current_app.extensions.setdefault("kb_openapi", {})
    if "spec" not in cache:
        cache["spec"] = build_spec(current_app)
    return cache["spec"]


@bp.get("/openapi.json")
def openapi() -> Response:
    return ok(get_spec())


_DOCS = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ spec.info.title }} {{ spec.info.version }}</title></head>
<body>
<h1>{{ spec.info.title }} <small>{{ spec.info.version }}</small></h1>
<p>{{ spec.info.description }}</p>
<p>Machine-readable: <a href="openapi.json">openapi.json</a> (OpenAPI {{ spec.openapi }}).</p>
<h2>Operations</h2>
<ul>{% for path, ops in spec.paths.items() %}{% for method, op in ops.items() %}
<li><a href="#{{ op.operationId or (method ~ path) }}"><code>{{ method|upper }} {{ path }}</code></a> {{ op.summary }}</li>
{% endfor %}{% endfor %}</ul>
{% for path, ops in spec.paths.items() %}{% for method, op in ops.items() %}
<section id="{{ op.operationId or (method ~ path) }}">
<h3><code>{{ method|upper }} {{ path }}</code></h3>
<p>{{ op.summary }}{% if op.security %} <strong>Needs a token.</strong>{% endif %}</p>
{% if op.description %}<p>{{ op.description }}</p>{% endif %}
{% set ps = op.parameters|default([]) %}{% if ps %}
<table><thead><tr><th>parameter</th><th>in</th><th>type</th><th>description</th></tr></thead><tbody>
{% for p in ps %}{% set p = resolve(p) %}<tr><td><code>{{ p.name }}</code>{% if p.required %} (required){% endif %}</td>
<td>{{ p['in'] }}</td><td>{{ describe(p.schema) }}</td><td>{{ p.description }}</td></tr>{% endfor %}
</tbody></table>{% endif %}
<p>Responses: {% for code, r in op.responses.items() %}<code>{{ code }}</code> {{ resolve(r).description }}{% if not loop.last %}; {% endif %}{% endfor %}</p>
</section>{% endfor %}{% endfor %}
<h2>Problems</h2>
<p>Errors are <code>application/problem+json</code>: <code>type</code>, <code>title</code>, <code>status</code>,
<code>detail</code>, and kb's <code>code</code>.</p>
<dl>{% for code, status in problems %}<dt id="problem-{{ code }}"><code>{{ code }}</code></dt><dd>HTTP {{ status }}</dd>{% endfor %}</dl>
</body></html>"""


def _resolve(spec: dict[str, Any], obj: dict[str, Any]) -> dict[str, Any]:
    ref = obj.get("$ref") if isinstance(obj, dict) else None
    if not ref:
        return obj
    node: Any = spec
    for part in ref.lstrip("#/").split("/"):
        node = node.get(part, {})
    return node


def _describe(schema: dict[str, Any] | None) -> str:
    if not schema:
        return ""
    text = str(schema.get("type", ""))
    if "enum" in schema:
        text += " (" + " | ".join(map(str, schema["enum"])) + ")"
    if "minimum" in schema or "maximum" in schema:
        text += f" [{schema.get('minimum', '')}..{schema.get('maximum', '')}]"
    return text


@bp.get("/docs")
def docs() -> str:
    from kb import errors as E
    from web.errors import STATUS_BY_ERROR

    spec = get_spec()
    problems = sorted({(cls.code, status) for cls, status in STATUS_BY_ERROR}
                      | {(E.LimitExceededError.code, 413), ("not_found", 404), ("method_not_allowed", 405),
                         ("internal_error", 500), ("unprocessable_entity", 422)})
    return render_template_string(_DOCS, spec=spec, problems=problems,
                                  resolve=lambda o: _resolve(spec, o), describe=_describe)
