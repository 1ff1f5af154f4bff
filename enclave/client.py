"""The Python client: ask a running enclave from a notebook or a script.

>>> from enclave import Client
>>> client = Client("http://127.0.0.1:8000", token="...")  # doctest: +SKIP
>>> df = client.query(
...     "SELECT region, COUNT(*) AS n FROM persons GROUP BY region",
...     project="demo", epsilon=0.5)  # doctest: +SKIP
>>> df.columns  # doctest: +SKIP
['region', 'n', 'n_se', 'n_ci_low', 'n_ci_high']

Refusals raise the same exception types the server uses (``enclave.errors``), so
``except BudgetExhausted:`` works the same embedded or over HTTP.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict, Unpack

import httpx

from enclave import errors
from enclave.errors import EnclaveError, InternalError, UserError

if TYPE_CHECKING:
    import polars as pl

__all__ = ["Ask", "Client", "error_from_payload", "to_frame"]

_ERRORS: dict[str, type[EnclaveError]] = {
    name: cls
    for name in errors.__all__
    if isinstance(cls := getattr(errors, name), type) and issubclass(cls, EnclaveError)
}


class Ask(TypedDict, total=False):
    """What a query may spend: ``epsilon``, or the 95% ``half_width`` wanted (not both)."""

    epsilon: float | None
    half_width: float | None


def error_from_payload(status: int, payload: Any) -> EnclaveError:
    """The exception a refusal stands for (its ``type`` names an ``enclave.errors`` class).

    >>> exc = error_from_payload(429, {"error": {"type": "BudgetExhausted", "message": "m"}})
    >>> type(exc).__name__, exc.message
    ('BudgetExhausted', 'm')
    >>> type(error_from_payload(404, "not json")).__name__
    'NotFound'
    """
    err = payload.get("error") if isinstance(payload, dict) else None
    name, message = None, None
    if isinstance(err, dict):
        name, message = err.get("type"), err.get("message")
    elif isinstance(payload, dict):  # a bare RFC 7807 problem
        name = str(payload.get("type", "")).rsplit(":", 1)[-1].rsplit("/", 1)[-1] or None
        message = payload.get("detail")
    cls = _ERRORS.get(str(name)) if name else None
    if cls is None:
        cls = _by_status(status)
    text = str(message) if message else f"The server answered HTTP {status}."
    if cls is InternalError:
        exc = InternalError(text)
        return exc
    return cls(text)


def _by_status(status: int) -> type[EnclaveError]:
    return {
        401: errors.Unauthorized,
        403: errors.Forbidden,
        404: errors.NotFound,
        409: errors.Conflict,
        413: UserError,
        422: errors.QueryRejected,
        429: errors.RateLimited,
    }.get(status, InternalError if status >= 500 else UserError)


def to_frame(data: dict[str, Any]) -> pl.DataFrame:
    """A release (``{"columns", "rows", ...}``) as a polars DataFrame.

    >>> to_frame({"columns": ["n", "n_se"], "rows": [[10.0, 1.5]]}).shape
    (1, 2)
    """
    import polars as pl

    columns = list(data["columns"])
    rows = [list(r) for r in data["rows"]]
    frame = pl.DataFrame(rows, schema=columns, orient="row", infer_schema_length=None)
    return frame


class Client:
    """An enclave over HTTP, authenticated with one bearer token."""

    def __init__(self, url: str, token: str, *, timeout: float = 120.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

    def __repr__(self) -> str:  # never show the token
        return f"Client({self.url!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- plumbing ------------------------------------------------------------------
    def request(self, method: str, path: str, json: Any = None, **params: Any) -> Any:
        """Call one endpoint; return its JSON, or raise the matching enclave error."""
        query = {k: v for k, v in params.items() if v is not None}
        try:
            resp = self._http.request(method, path, json=json, params=query or None)
        except httpx.HTTPError as exc:
            raise UserError(
                f"Cannot reach the enclave at {self.url} ({type(exc).__name__}); "
                "check the URL and that `enclave serve` is running."
            ) from None
        try:
            body = resp.json()
        except ValueError:
            body = None
        if resp.status_code >= 400:
            raise error_from_payload(resp.status_code, body)
        return body

    def _post(self, path: str, sql: str, project: str | None, ask: Ask) -> dict[str, Any]:
        """POST a query body (``sql``, ``project`` and the ``ask`` given) to ``path``."""
        unknown = sorted(set(ask) - set(Ask.__annotations__))
        if unknown:
            raise TypeError(f"unexpected keyword argument(s): {', '.join(unknown)}")
        epsilon, half_width = ask.get("epsilon"), ask.get("half_width")
        if epsilon is not None and half_width is not None:
            raise UserError("Give either epsilon or half_width, not both.")
        body: dict[str, Any] = {"sql": sql, "project": project}
        body.update({k: v for k, v in ask.items() if v is not None})
        return dict(self.request("POST", path, body))

    # -- researchers ---------------------------------------------------------------
    def query_json(
        self, sql: str, project: str | None = None, **ask: Unpack[Ask]
    ) -> dict[str, Any]:
        """The release as JSON (what ``enclave query --json`` prints)."""
        return self._post("/v1/queries", sql, project, ask)

    def query(self, sql: str, project: str | None = None, **ask: Unpack[Ask]) -> pl.DataFrame:
        """A differentially private answer as a polars DataFrame (``.to_pandas()`` works).

        Each aggregate comes with ``<alias>_se``, ``<alias>_ci_low`` and ``<alias>_ci_high``;
        the release's metadata (ε spent, budget remaining, bounds) is in ``last_release``.
        """
        data = self.query_json(sql, project, **ask)
        self.last_release = {k: v for k, v in data.items() if k not in ("rows",)}
        return to_frame(data)

    def dry_run_json(
        self, sql: str, project: str | None = None, **ask: Unpack[Ask]
    ) -> dict[str, Any]:
        """What the query would cost (ε) and its expected 95% half-width; spends nothing."""
        return self._post("/v1/queries/dry-run", sql, project, ask)

    dry_run = dry_run_json

    def budget(self, project: str | None = None) -> dict[str, Any]:
        """Total, spent and remaining ε/δ of a project (yours, if you are in one)."""
        return dict(self.request("GET", f"/v1/projects/{self._project(project)}/budget"))

    def submit_review(
        self, sql: str, project: str | None = None, **ask: Unpack[Ask]
    ) -> dict[str, Any]:
        """Ask a steward to approve a query above the project's review threshold."""
        return self._post("/v1/reviews", sql, project, ask)

    def me(self) -> dict[str, Any]:
        """Who this token belongs to, and their projects."""
        return dict(self.request("GET", "/v1/me"))

    def public_releases(self) -> list[dict[str, Any]]:
        """Published releases (indicators) anyone may read."""
        return list(self.request("GET", "/v1/releases/public")["releases"])

    def _project(self, project: str | None) -> str:
        if project:
            return project
        projects = self.me().get("projects", [])
        if len(projects) != 1:
            raise UserError("Name the project: you are a member of none or of several.")
        return str(projects[0])
