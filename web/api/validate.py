"""Query parameters are checked against the OpenAPI document before a view runs, so what the
document says a parameter accepts is exactly what the server accepts: a value the schema
rejects (an empty page number, a cursor of the wrong form, a value outside an enum) is a 400
naming the parameter, never silently taken for the default. The views still parse the values
themselves; this only refuses what the published schema does not allow."""
from __future__ import annotations

import re
from typing import Any

from flask import request

from kb.errors import InvalidInputError
from web.api.blueprint import bp
from web.api.spec import get_spec, openapi_path


@bp.before_request
def check_query_parameters() -> None:
    rule = request.url_rule
    if rule is None:
        return  # 404/405: answered by the error handlers
    op = get_spec()["paths"].get(openapi_path(rule.rule), {}).get(request.method.lower())
    if not op:
        return
    for param in _query_parameters(op):
        name = param["name"]
        values = request.args.getlist(name)
        if not values:
            continue
        schema = param.get("schema") or {}
        if schema.get("type") == "array":  # repeated parameter (style form, explode)
            schema = schema.get("items") or {}
        elif len(values) > 1:
            raise InvalidInputError(f"{name} is given {len(values)} times; give it once")
        for value in values:
            problem = _check(value, schema)
            if problem:
                raise InvalidInputError(f"{name}: {problem}, not {value[:40]!r}")


def _query_parameters(op: dict[str, Any]) -> list[dict[str, Any]]:
    spec = get_spec()
    out = []
    for p in op.get("parameters", []):
        if "$ref" in p:
            p = spec["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]
        if p.get("in") == "query":
            out.append(p)
    return out


def _check(value: str, schema: dict[str, Any]) -> str | None:
    """Why `value` does not match `schema` (the subset of JSON Schema the document uses),
    or None when it does."""
    if schema.get("type") == "integer":
        if not re.fullmatch(r"-?[0-9]{1,12}", value):
            return "must be a whole number"
        n = int(value)
        if "minimum" in schema and n < schema["minimum"] or "maximum" in schema and n > schema["maximum"]:
            return f"must be between {schema.get('minimum', '')} and {schema.get('maximum', '')}"
        return None
    if "enum" in schema and value not in schema["enum"]:
        return "must be one of " + ", ".join(map(str, schema["enum"]))
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        return f"must be at most {schema['maxLength']} characters"
    if "minLength" in schema and len(value) < schema["minLength"]:
        return f"must be at least {schema['minLength']} characters"
    # re.search, as JSON Schema validators apply "pattern".
    if "pattern" in schema and not re.search(schema["pattern"], value):
        return "is not in the documented form"
    return None
