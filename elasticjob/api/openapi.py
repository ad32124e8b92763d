"""OpenAPI helpers for routes that read their JSON body themselves (to control 400/415/422)."""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from elasticjob.security.roles import Action, required_action
from elasticjob.security.sessions import COOKIE, CSRF_HEADER

_REF = "#/components/schemas/{model}"
# Every error a client can cause (api/errors.py); /v1 answers the same shape, with "id" on some.
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["message"],
    "properties": {
        "message": {"type": "string"},
        "details": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path", "errors"],
                "properties": {
                    "path": {"type": "string"},
                    "errors": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}
_ERRORS = {
    "400": "malformed request (not JSON, not an object, not UTF-8)",
    "404": "no such app, job, run, task or route",
    "409": "conflicts with the current state (exists already, in use, changed concurrently)",
    "413": "request body over --max-body-bytes",
    "415": "unsupported Content-Type",
    "422": "invalid content; details name each field and what is wrong",
}


# With --auth-file (SECURITY.md): HTTP Basic, a bearer token, or the console's session cookie (whose
# mutating requests must carry the CSRF header too). Without one, every route answers anybody.
SECURITY_SCHEMES: dict[str, Any] = {
    "basicAuth": {"type": "http", "scheme": "basic"},
    "bearerAuth": {"type": "http", "scheme": "bearer",
                   "description": "also `Authorization: token <token>` and `token=<token>`"},
    "sessionCookie": {"type": "apiKey", "in": "cookie", "name": COOKIE,
                      "description": f"from POST /auth/login; writes also need the `{CSRF_HEADER}` header"},
}
_NEEDS = {Action.READ: "viewer", Action.OPERATE: "operator", Action.ADMIN: "admin"}


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` declaring a required JSON request body of ``model``."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": _REF.format(model=model.__name__)}}},
        }
    }


def name_or_json_body(model: type[BaseModel], what: str) -> dict[str, Any]:
    """``openapi_extra`` for a body that is either a name as text or a JSON object of ``model``."""
    body = json_body(model)
    body["requestBody"]["content"]["text/plain"] = {"schema": {"type": "string", "description": what}}
    return body


def json_response(model: str, many: bool = False) -> dict[str, Any]:
    """``openapi_extra`` documenting a 200 answer of the component ``model`` (or an array of them), for
    routes that answer already-encoded JSON (so FastAPI cannot know its shape)."""
    schema: dict[str, Any] = {"$ref": _REF.format(model=model)}
    if many:
        schema = {"type": "array", "items": schema}
    return {"responses": {"200": {"description": "OK", "content": {"application/json": {"schema": schema}}}}}


def install_openapi(app: FastAPI, models: list[type[BaseModel]]) -> None:
    """Add the schemas of ``models`` (referenced by ``json_body``) to the generated document."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in models:
                definition = model.model_json_schema(ref_template=_REF)
                components.update(definition.pop("$defs", {}))
                components[model.__name__] = definition
            components["Error"] = ERROR_SCHEMA
            components.pop("HTTPValidationError", None)  # FastAPI's shape, which this API never answers
            components.pop("ValidationError", None)
            _document_errors(schema)
            _document_security(schema)
            job = components.get("Job")
            if job is not None and "cron" not in job.get("required", []):
                # The native routes require cron (as Elastic-Job-Cloud); only /v1 jobs may lack one.
                job.setdefault("required", []).append("cron")
            if job is not None:
                # GET /job/jobs/{jobName}: the configuration and its firing times (service.job_view).
                view = copy.deepcopy(job)
                view["title"] = "JobView"
                when = {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]}
                view["properties"].update(nextFireTime=when, lastFireTime=when)
                components["JobView"] = view
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]


def _document_errors(schema: dict[str, Any]) -> None:
    """Every operation may answer the 4xx errors of ``_ERRORS`` as ``Error`` (FastAPI documents only its
    own 422 shape, on routes with declared parameters)."""
    error = {"content": {"application/json": {"schema": {"$ref": _REF.format(model="Error")}}}}
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            for status, description in _ERRORS.items():
                responses[status] = {"description": description, **error}


def _document_security(schema: dict[str, Any]) -> None:
    """The credentials each operation takes, and its 401/403 answers, from the one role table
    (``security/roles.py``): public operations take none; the others name the least role allowed."""
    schema["components"]["securitySchemes"] = SECURITY_SCHEMES
    schema["security"] = [{name: []} for name in SECURITY_SCHEMES]
    error = {"content": {"application/json": {"schema": {"$ref": _REF.format(model="Error")}}}}
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            action = required_action(method.upper(), path)
            if action is None:
                operation["security"] = []
                continue
            responses = operation.setdefault("responses", {})
            responses["401"] = {"description": "no credentials, or wrong ones (with --auth-file)", **error}
            responses["403"] = {
                "description": f"needs the role {_NEEDS[action]} or above, and jobs within the user's groups",
                **error,
            }
            operation["x-elasticjob-role"] = _NEEDS[action]
