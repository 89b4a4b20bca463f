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
    # 413: body over NodeConfig.max_body_bytes; 503 (with Retry-After): the database busy past its timeout
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
    filters = [{"name": name, "in": "query", "schema": {"type": "array", "items": {"type": "string", "minLength": 1}},
                "explode": True}
               for name in ("productId", "companyId", "geography", "classification")]
    filters += [{"name": name, "in": "query", "schema": {"type": "string", "format": "date-time"}}
                for name in ("validOn", "validAfter", "validBefore")]
    filters += [{"name": "status", "in": "query", "schema": {"type": "string"},  # not an enum here: see description
                 "description": "Active or Deprecated (case-insensitive); any other value matches nothing"},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}}]
    for prefix, footprint in (("/3", "ProductFootprint"), ("/2", "ProductFootprintV2")):
        listing = {"type": "object", "required": ["data"], "properties": {"data": {"type": "array", "items": {"$ref": f"#/components/schemas/{footprint}"}}}}
        single = {"type": "object", "required": ["data"], "properties": {"data": {"$ref": f"#/components/schemas/{footprint}"}}}
        # v2.3.3 8.6.3: the OData `$filter` subset (exchange/node/v2_filter.py)
        v2_filter = [{"name": "$filter", "in": "query", "schema": {"type": "string"}}] if prefix == "/2" else []
        spec.path(path=f"{prefix}/footprints", operations={"get": _operation(
            "Action ListFootprints", listing, (400, 401, 403, 500, 503), filters + v2_filter)})
        # a footprint not found, or not visible to the caller: 404 (v3.0.3 Action GetFootprint)
        spec.path(path=f"{prefix}/footprints/{{id}}", operations={"get": _operation(
            "Action GetFootprint", single, (400, 401, 404, 500, 503),
            [{"name": "id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}])})
        events = _operation("Action Events", None, (400, 401, 403, 413, 500, 503))
        events["requestBody"] = {"content": {"application/cloudevents+json": {"schema": {"$ref": "#/components/schemas/CloudEvent"}}}}
        spec.path(path=f"{prefix}/events", operations={"post": events})
    oauth_error = {"application/json": {"schema": {"type": "object", "required": ["error"], "properties": {
        "error": {"type": "string"}, "error_description": {"type": "string"}}}}}
    token = {"type": "object", "required": ["access_token", "token_type"], "properties": {
        "access_token": {"type": "string"}, "token_type": {"type": "string"}, "expires_in": {"type": "integer"}}}
    form = {"type": "object", "required": ["grant_type"], "properties": {
        "grant_type": {"type": "string", "enum": ["client_credentials"]}, "client_id": {"type": "string"},
        "client_secret": {"type": "string"}}}
    spec.path(path="/auth/token", operations={"post": {
        "summary": "Action Authenticate (OAuth2 client credentials; HTTP Basic or form credentials)",
        "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": form}}},
        "responses": {"200": {"description": "access token", "content": {"application/json": {"schema": token}}},
                      "400": {"description": "RFC 6749 5.2", "content": oauth_error},
                      "401": {"description": "RFC 6749 5.2", "content": oauth_error},
                      "429": {"description": "too many failed authentications for this client id or from this "
                                             "address (the body is RFC 6749 5.2's, error invalid_request)",
                              "headers": {"Retry-After": {"description": "seconds until the window ends",
                                                          "schema": {"type": "integer"}}},
                              "content": oauth_error}}}})
    _public_paths(spec)
    return _open_objects(spec.to_dict())


def _public_paths(spec: APISpec) -> None:
    """The unauthenticated endpoints, so that the document (and the fuzz test driven by it) covers every route of
    the API; the operator's HTML dashboard is not part of the API."""
    def get(summary: str, media: str, schema: dict, errors: tuple[int, ...] = ()) -> dict:
        responses = {"200": {"description": summary, "content": {media: {"schema": schema}}}}
        responses.update({str(code): {"description": "error", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Error"}}}} for code in errors})
        return {"get": {"summary": summary, "security": [], "responses": responses}}

    json_object = {"type": "object"}
    spec.path(path="/health", operations=get("Liveness", "application/json", {
        "type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}}))
    spec.path(path="/.well-known/openid-configuration", operations=get(
        "OpenID provider configuration (token endpoint discovery)", "application/json", {
            "type": "object", "required": ["issuer", "token_endpoint"], "properties": {
                "issuer": {"type": "string"}, "token_endpoint": {"type": "string"}}}))
    spec.path(path="/.well-known/jwks.json", operations=get("The node's public signing keys (JWKS)", "application/json", {
        "type": "object", "required": ["keys"], "properties": {"keys": {"type": "array", "items": json_object}}}))
    schemas = get("A JSON Schema of this toolkit's PACT extensions", "application/schema+json", json_object, (404,))
    schemas["get"]["parameters"] = [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}]
    spec.path(path="/schemas/{name}.json", operations=schemas)
    spec.path(path="/openapi.json", operations=get("This document", "application/json", json_object))
    spec.path(path="/docs", operations=get("This document as a web page", "text/html", {"type": "string"}))


def _open_objects(node):
    """Drop apispec's `additionalProperties: false` (from marshmallow's RAISE): the node stores and serves
    documents as sent, unknown fields included, as the official PACT OpenAPI allows (it never closes objects)."""
    if isinstance(node, dict):
        return {key: _open_objects(value) for key, value in node.items()
                if not (key == "additionalProperties" and value is False)}
    if isinstance(node, list):
        return [_open_objects(item) for item in node]
    return node


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
