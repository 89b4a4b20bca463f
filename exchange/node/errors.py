"""PACT error responses: `{code, message}` with the status each code carries.

v3 codes and statuses come from the OpenAPI (`components.schemas.Error`: NotFound for 404, NotImplemented);
v2 from the v2.3.3 error table (NoSuchFootprint for 404, NotImplemented and invalid tokens as 400).
"""

from __future__ import annotations

import json

from flask import Response

V3_STATUS = {"BadRequest": 400, "AccessDenied": 403, "TokenExpired": 401, "NotFound": 404, "InternalError": 500,
             "NotImplemented": 501}
V2_STATUS = {"BadRequest": 400, "AccessDenied": 403, "TokenExpired": 401, "NoSuchFootprint": 404,
             "InternalError": 500, "NotImplemented": 400}
V2_CODE = {"NotFound": "NoSuchFootprint"}


class ApiError(Exception):
    """An error the API answers with a PACT error body; `status` overrides the code's default."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def error_response(code: str, message: str, version: str = "v3", status: int | None = None) -> Response:
    """The spec's error body for `version`, with the status its table gives the code."""
    if version == "v2":
        code = V2_CODE.get(code, code)
        status = status or V2_STATUS.get(code, 400)
    else:
        status = status or V3_STATUS.get(code, 400)
    return Response(error_body(code, message), status=status, mimetype="application/json")


def error_body(code: str, message: str) -> bytes:
    """The `{code, message}` JSON every PACT error carries (also what the server itself answers: server.py)."""
    return json.dumps({"code": code, "message": message}).encode()
