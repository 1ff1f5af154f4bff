"""OpenAPI that a client generator can use, and docs pages that work offline.

``answers(model, *statuses)`` is what a route declares: its success model and the refusals
it may give, each documented as problem JSON (``application/problem+json``, ``ProblemOut``)
with what the status means here. ``install_docs`` serves Swagger UI at ``/docs`` and ReDoc
at ``/redoc`` from assets shipped in a Python package (no CDN: the enclave has no internet),
and replaces FastAPI's own 422 shape with the problem JSON the API actually returns.

>>> sorted(answers(None, 401, 404)["responses"])
[401, 404, 500]
>>> answers(None)["responses"][500]["description"].startswith("A bug")
True
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from importlib.resources import files
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from enclave.api._errors import PROBLEM
from enclave.api._responses import ProblemOut

__all__ = ["ASSETS", "AUTHED", "BODY", "answers", "install_docs"]

#: where the Swagger UI and ReDoc bundles are served from (files of fastapi-offline)
ASSETS = "/docs-assets"

_MEANING = {
    400: "The request is malformed: not JSON, no `Content-Type: application/json`, or an "
    "argument that is not allowed here.",
    401: "No valid token: send `Authorization: Bearer <token>`.",
    403: "Not allowed: the token's role, the project's rules or the dataset's ceiling.",
    404: "No such project, user, token, review or endpoint.",
    409: "The change conflicts with the current state (e.g. already decided); nothing changed.",
    413: "The body is larger than the API accepts.",
    422: "A field is missing, has the wrong type or is out of range, or the query is refused.",
    429: "Too many requests for this token, or the budget is exhausted.",
    500: "A bug in the enclave (it is audited); the message carries no detail.",
}

#: refusals any endpoint behind a token may give
AUTHED = (400, 401, 403, 404, 422, 429)
#: and those of an endpoint with a JSON body
BODY = (*AUTHED, 413)


def answers(model: Any, *statuses: int, status: int = 200) -> dict[str, Any]:
    """Route keyword arguments: ``model`` documented for ``status``, problem JSON for the
    refusals in ``statuses`` (and 500). The route's JSON is returned as it is."""
    responses: dict[int | str, dict[str, Any]] = {}
    if model is not None:
        responses[status] = {"model": model}
    for code in sorted({*statuses, 500}):
        responses[code] = {"model": ProblemOut, "description": _MEANING[code]}
    return {"response_model": None, "status_code": status, "responses": responses}


def _problem_content(doc: dict[str, Any]) -> dict[str, Any]:
    ref = {"$ref": "#/components/schemas/ProblemOut"}
    for ops in doc.get("paths", {}).values():
        for op in ops.values():
            for code, resp in op.get("responses", {}).items():
                if code.isdigit() and int(code) >= 400:
                    resp["content"] = {PROBLEM: {"schema": ref}}
                    resp["description"] = _MEANING.get(int(code), resp.get("description", ""))
    schemas = doc.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return doc


def _openapi(app: FastAPI) -> Any:
    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = _problem_content(doc)
        return app.openapi_schema

    return build


#: path -> (route name, renderer, title, its asset arguments: file names under ASSETS)
_PAGES: dict[str, tuple[str, Callable[..., HTMLResponse], str, dict[str, str]]] = {
    "/docs": (
        "swagger",
        get_swagger_ui_html,
        "Swagger UI",
        {
            "swagger_js_url": "swagger-ui-bundle.js",
            "swagger_css_url": "swagger-ui.css",
            "swagger_favicon_url": "favicon.png",
        },
    ),
    "/redoc": (
        "redoc",
        partial(get_redoc_html, with_google_fonts=False),
        "ReDoc",
        {"redoc_js_url": "redoc.standalone.js", "redoc_favicon_url": "favicon.png"},
    ),
}


def _page(
    app: FastAPI, render: Callable[..., HTMLResponse], title: str, assets: dict[str, str]
) -> Callable[[Request], Awaitable[HTMLResponse]]:
    """A docs page whose OpenAPI and asset URLs follow the request's root path."""

    async def page(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        urls = {arg: f"{root}{ASSETS}/{file}" for arg, file in assets.items()}
        return render(openapi_url=f"{root}/openapi.json", title=f"{app.title} - {title}", **urls)

    return page


def install_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI), ``/redoc`` and their assets, all served locally."""
    static = files("fastapi_offline") / "static"
    app.mount(ASSETS, StaticFiles(directory=str(static)), name="docs-assets")
    app.openapi = _openapi(app)  # type: ignore[method-assign]

    for path, (name, render, title, assets) in _PAGES.items():
        app.get(path, include_in_schema=False, name=name)(_page(app, render, title, assets))
