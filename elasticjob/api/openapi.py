"""OpenAPI helpers for routes that read their JSON body themselves (to control 400/415/422)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

_REF = "#/components/schemas/{model}"


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
            job = components.get("Job")
            if job is not None and "cron" not in job.get("required", []):
                # The native routes require cron (as Elastic-Job-Cloud); only /v1 jobs may lack one.
                job.setdefault("required", []).append("cron")
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]
