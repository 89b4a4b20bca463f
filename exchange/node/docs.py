"""The node's own OpenAPI document, generated from the marshmallow schemas that marshal the data.

`apispec` with its marshmallow plugin turns `ProductFootprintV3` (and the v2 and event schemas) into
`components.schemas`; our field types map onto PACT's (`DecimalString` -> string/decimal, ...). `/docs` is a
self-contained HTML page listing the operations (the node runs offline: no CDN-hosted viewer).
"""

from __future__ import annotations

from functools import cache
from html import escape

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Response, json

from exchange.pact.fields import DecimalString, NumberDecimal, Patterned, StrictBoolean, Text, UtcDateTime
from exchange.pact.v2_schema import ProductFootprintV2
from exchange.pact.v3_schema import ProductFootprintV3

from .events import EnvelopeSchema

ERROR = {"type": "object", "required": ["code", "message"],
         "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}


def _operation(summary: str, schema: str | None, errors: tuple[int, ...], params: list | None = None) -> dict:
    responses = {str(code): {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                 for code in errors}
    ok = {"description": "success"}
    if schema:
        ok["content"] = {"application/json": {"schema": schema}}
    responses["200"] = ok
    operation = {"summary": summary, "responses": responses, "security": [{"BearerAuth": []}]}
    if params:
        operation["parameters"] = params
    return operation


@cache
def openapi_document() -> dict:
    plugin = MarshmallowPlugin()
    spec = APISpec(title="carbon-exchange PACT node", version="3.0.3", openapi_version="3.1.0", plugins=[plugin])
    plugin.map_to_openapi_type(DecimalString, "string", "decimal")
    plugin.map_to_openapi_type(NumberDecimal, "number", None)
    plugin.map_to_openapi_type(UtcDateTime, "string", "date-time")
    plugin.map_to_openapi_type(Text, "string", None)
    plugin.map_to_openapi_type(Patterned, "string", None)
    plugin.map_to_openapi_type(StrictBoolean, "boolean", None)
    spec.components.schema("ProductFootprint", schema=ProductFootprintV3)
    spec.components.schema("ProductFootprintV2", schema=ProductFootprintV2)
    spec.components.schema("CloudEvent", schema=EnvelopeSchema)
    spec.components.schema("Error", ERROR)
    spec.components.security_scheme("BearerAuth", {"type": "oauth2", "flows": {"clientCredentials": {
        "tokenUrl": "/auth/token", "scopes": {"footprint:list": "list footprints", "footprint:read": "read a footprint"}}}})
    filters = [{"name": name, "in": "query", "schema": {"type": "array", "items": {"type": "string"}}, "explode": True}
               for name in ("productId", "companyId", "geography", "classification")]
    filters += [{"name": name, "in": "query", "schema": {"type": "string", "format": "date-time"}}
                for name in ("validOn", "validAfter", "validBefore")]
    filters += [{"name": "status", "in": "query", "schema": {"type": "string", "enum": ["Active", "Deprecated"]}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}}]
    for prefix, footprint in (("/3", "ProductFootprint"), ("/2", "ProductFootprintV2")):
        listing = {"type": "object", "required": ["data"], "properties": {"data": {"type": "array", "items": {"$ref": f"#/components/schemas/{footprint}"}}}}
        single = {"type": "object", "required": ["data"], "properties": {"data": {"$ref": f"#/components/schemas/{footprint}"}}}
        spec.path(path=f"{prefix}/footprints", operations={"get": _operation("Action ListFootprints", listing, (400, 401, 403, 500), filters)})
        spec.path(path=f"{prefix}/footprints/{{id}}", operations={"get": _operation(
            "Action GetFootprint", single, (400, 401, 403, 404, 500),
            [{"name": "id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}])})
        events = _operation("Action Events", None, (400, 401, 403, 500))
        events["requestBody"] = {"content": {"application/cloudevents+json": {"schema": {"$ref": "#/components/schemas/CloudEvent"}}}}
        spec.path(path=f"{prefix}/events", operations={"post": events})
    spec.path(path="/auth/token", operations={"post": {"summary": "Action Authenticate (OAuth2 client credentials)",
                                                       "responses": {"200": {"description": "access token"}, "400": {"description": "RFC 6749 5.2"}, "401": {"description": "RFC 6749 5.2"}}}})
    return spec.to_dict()


def make_docs_blueprint() -> Blueprint:
    blueprint = Blueprint("docs", __name__)

    @blueprint.get("/openapi.json")
    def openapi_json() -> Response:
        return Response(json.dumps(openapi_document()), mimetype="application/json")

    @blueprint.get("/docs")
    def docs() -> Response:
        document = openapi_document()
        rows = "".join(
            f"<tr><td><code>{escape(method.upper())}</code></td><td><code>{escape(path)}</code></td>"
            f"<td>{escape(operation.get('summary', ''))}</td></tr>"
            for path, operations in document["paths"].items() for method, operation in operations.items())
        html = (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(document['info']['title'])}</title></head>"
                f"<body><h1>{escape(document['info']['title'])}</h1><p>PACT {escape(document['info']['version'])} REST API. "
                "Machine-readable: <a href='/openapi.json'>/openapi.json</a>.</p>"
                f"<table border='1' cellpadding='4'><tr><th>method</th><th>path</th><th>action</th></tr>{rows}</table>"
                "</body></html>")
        return Response(html, mimetype="text/html")

    return blueprint
