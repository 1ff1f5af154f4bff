"""``enclave budget dataset [--json]``: one person's total privacy loss across projects.

Every project over the dataset (the standing indicators' project too) may spend its whole
budget on the same person; under basic composition one person's total loss is the sum.
This verb shows that sum, what is spent, and the ceiling in the dataset policy, and the
standing indicators' part of it: the ε each indicator charged per calendar year and over
its lifetime so far (the worst case for a person who qualifies in every indicator).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from enclave.cli._common import cli_errors, emit
from enclave.cli._connect import Token, Url, connect
from enclave.errors import UserError

__all__ = ["dataset_budget"]


def _print(data: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    def num(value: float | None) -> str:
        return "-" if value is None else f"{value:g}"

    table = Table(
        "project", "kind", "status", "ε", "ε spent", "δ", "δ spent",
        title=f"Privacy loss of one person in dataset {data['dataset']}",
    )  # fmt: skip
    for p in data["projects"]:
        table.add_row(
            p["project"],
            p["kind"],
            p["status"],
            num(p["epsilon"]),
            num(p["epsilon_spent"]),
            num(p["delta"]),
            num(p["delta_spent"]),
        )
    table.add_row(
        "total",
        "",
        "",
        num(data["epsilon_total"]),
        num(data["epsilon_spent"]),
        num(data["delta_total"]),
        num(data["delta_spent"]),
    )
    console = Console()
    console.print(table)
    _print_indicators(console, data)
    if data["epsilon_ceiling"] is None and data["delta_ceiling"] is None:
        console.print("No ceiling: set [privacy] max_total_epsilon in the dataset policy.")
    else:
        console.print(
            f"Ceiling ε {num(data['epsilon_ceiling'])}, δ {num(data['delta_ceiling'])}; "
            f"left for approvals and top-ups: ε {num(data['epsilon_remaining'])}, "
            f"δ {num(data['delta_remaining'])}."
        )
    console.print(f"Composition: {data['composition']}.")


def _print_indicators(console: Any, data: dict[str, Any]) -> None:
    """The standing indicators' part, per year and over their lifetime so far."""
    from rich.table import Table

    inds = data.get("indicators") or []
    if not inds:
        return
    years = sorted(data.get("indicators_epsilon_by_year", {}))
    table = Table(
        "indicator", "k", "ε per year", *(f"ε {y}" for y in years), "ε lifetime",
        title="Standing indicators: ε charged (worst case for one person)",
    )  # fmt: skip
    for i in inds:
        spent = [f"{i['epsilon_by_year'].get(y, 0):g}" for y in years]
        table.add_row(
            i["indicator"], str(i["periods_per_year"]), f"{i['epsilon_per_year']:g}", *spent,
            f"{i['epsilon_lifetime']:g}",
        )  # fmt: skip
    per_year = [f"{data['indicators_epsilon_by_year'][y]:g}" for y in years]
    table.add_row("all", "", "", *per_year, f"{data['indicators_epsilon_lifetime']:g}")
    console.print(table)


def dataset_budget(
    url: Url = None,
    token: Token = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The ε and δ every project over the dataset may spend on one person, and the ceiling."""
    with cli_errors(as_json):
        where = connect(url, token)
        read = getattr(where, "dataset_budget", None)
        try:
            if read is None:
                raise UserError(
                    "This server does not offer the dataset's total yet; run the command on "
                    "the enclave's host."
                )
            data = dict(read())
        finally:
            getattr(where, "close", lambda: None)()
        if as_json:
            emit(data)
        else:
            _print(data)
