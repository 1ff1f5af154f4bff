"""``enclave query``: ask the gateway (embedded, or a running server with ``--url``)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from enclave.cli._common import answer, cli_errors, settings
from enclave.errors import Unauthorized

__all__ = ["num", "register"]


def _read_sql(sql: str) -> str:
    return sys.stdin.read() if sql == "-" else sql


def num(v: float) -> str:
    """One notation for released numbers: plain, 4 significant digits below 1,000, whole
    numbers above (scientific only past 10^15 or below 10^-3).

    >>> num(15180.4), num(3.349e4), num(0.30000000000000004), num(2.5), num(1e-06)
    ('15180', '33490', '0.3', '2.5', '1e-06')
    """
    if v != 0 and not 1e-3 <= abs(v) < 1e15:
        return f"{v:.3g}"
    return f"{v:.0f}" if abs(v) >= 1000 else f"{v:.4g}"


def _print_table(data: dict) -> None:
    from rich.console import Console
    from rich.table import Column, Table

    # headers wrap rather than end in "…": every column stays identifiable
    table = Table(*(Column(c, overflow="fold") for c in data["columns"]))
    for row in data["rows"]:
        table.add_row(
            *("" if v is None else num(v) if isinstance(v, float) else str(v) for v in row)
        )
    from enclave.gateway.release.text import INTERVAL_NOTE, describe_bounds

    console = Console()
    console.print(table)
    console.print(data.get("interval_note") or INTERVAL_NOTE)
    if data.get("bounds"):
        console.print(describe_bounds(data["bounds"]))
    for note in data.get("notes") or []:
        console.print(note)
    console.print(
        f"ε spent {data['epsilon_spent']:.4g}; {_remaining(data['budget_remaining'])}"
        + (" (cached release, no new cost)" if data.get("cached") else "")
    )


def _remaining(budget: dict) -> str:
    """``remaining ε 9.7 of 10 (project), 9.7 of 10 (yours)``, in plain numbers."""
    text = f"remaining ε {budget['epsilon_remaining']:.4g} of {budget['epsilon_total']:.4g}"
    if budget.get("member_epsilon_total") is not None:
        text += (
            f" (project), {budget['member_epsilon_remaining']:.4g} of "
            f"{budget['member_epsilon_total']:.4g} (yours)"
        )
    return text


def _print_widths(data: dict) -> None:
    """Each aggregate's 95% half-width (a range when the rows bound is chosen at run time);
    each average's at group sizes, in its own units."""
    ranges = data.get("half_width_ranges") or {}
    typer.echo("Expected 95% half-width per aggregate:")
    for name, width in data.get("half_widths", {}).items():
        low = ranges.get(name, [width])[0]
        shown = f"±{num(width)}" if low == width else f"±{num(low)} to ±{num(width)}"
        typer.echo(f"  {name}: {shown}")
    for name, avg in (data.get("average_half_widths") or {}).items():
        bounds = list(avg["by_rows_bound"])
        for at in dict.fromkeys([bounds[0], bounds[-1]]):  # the smallest and largest bound
            pairs = zip(avg["rows"], avg["by_rows_bound"][at], strict=True)
            typer.echo(
                f"  {name} (average, rows per person ≤ {at}): "
                + ", ".join(f"±{num(w)} at {n:,} rows" for n, w in pairs)
                + f"; withheld below {avg['released_from_rows'][at]:,} rows"
            )


def _print_dry_run(data: dict) -> None:
    """A dry run as text: the ε it would cost, its split, the half-widths, a refusal."""
    typer.echo(f"Would cost ε {data['epsilon']:.4g}, δ {data['delta']:.4g} (nothing spent).")
    if data.get("cached"):
        typer.echo("Already released: asking again returns it at no cost.")
    elif data.get("refusal"):
        typer.echo(data["refusal"]["message"])
    _print_widths(data)
    typer.echo("ε split: " + ", ".join(f"{k} {v:.4g}" for k, v in data["epsilon_split"].items()))
    typer.echo(f"Rows per person: {data['rows_per_person']} ({data['rows_bound']})")
    for note in data.get("notes") or []:
        typer.echo(note)
    if data.get("budget_remaining"):
        typer.echo(_remaining(data["budget_remaining"]).capitalize() + ".")


def _submit(
    url: str | None,
    token: str,
    text: str,
    project: str,
    epsilon: float | None,
    half_width: float | None,
) -> dict:
    """Queue the query for a steward's approval, over the API or on this host."""
    if url:
        from enclave.client import Client

        return Client(url, token).submit_review(
            text, project=project, epsilon=epsilon, half_width=half_width
        )
    from enclave.service import Service

    service = Service.open(settings())
    principal = service.authenticate(token)
    return service.submit_review(principal, text, project, epsilon=epsilon, half_width=half_width)


def query(
    sql: Annotated[str, typer.Argument(help="The SQL, or - to read it from standard input.")],
    project: Annotated[str, typer.Option("--project", "-p", help="Project id.")],
    epsilon: Annotated[float | None, typer.Option(help="Privacy budget to spend.")] = None,
    half_width: Annotated[
        float | None, typer.Option("--half-width", help="Target 95% half-width instead of ε.")
    ] = None,
    token: Annotated[
        str | None, typer.Option(envvar="ENCLAVE_TOKEN", help="API token (or ENCLAVE_TOKEN).")
    ] = None,
    url: Annotated[str | None, typer.Option(help="Ask a running server instead.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show cost, spend nothing.")] = False,
    submit_review: Annotated[
        bool,
        typer.Option(
            "--submit-review", help="Ask a steward to approve this query (above the review ε)."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Run SQL through the gateway and print a differentially private release."""
    with cli_errors(as_json):
        text = _read_sql(sql)
        if not token:
            raise Unauthorized("No token: pass --token or set ENCLAVE_TOKEN (ask your steward).")
        if submit_review:
            review = _submit(url, token, text, project, epsilon, half_width)
            answer(
                review,
                as_json,
                f"Review {review['id']} submitted ({review['status']}); run the same "
                "query again once a steward approves it.",
            )
            return
        if url:
            from enclave.client import Client

            client = Client(url, token)
            data = (
                client.dry_run_json(text, project=project, epsilon=epsilon, half_width=half_width)
                if dry_run
                else client.query_json(
                    text, project=project, epsilon=epsilon, half_width=half_width
                )
            )
        else:
            from enclave.service import Service

            service = Service.open(settings())
            principal = service.authenticate(token)
            data = service.query(
                principal, text, project, epsilon=epsilon, half_width=half_width, dry_run=dry_run
            )
        answer(data, as_json, _print_dry_run if dry_run else _print_table)


def register(app: typer.Typer) -> None:
    app.command("query")(query)
