"""``enclave budget --project P [--user U]``: total, spent and remaining privacy budget.

A project accounted in ρ-zCDP also shows ρ (total, spent, remaining); its ε figures are
what the ρ implies at the project's conversion δ. ``--json`` prints the store's
``BudgetStatus.to_json()`` (with the ``rho_*`` fields for zcdp projects only).

Limits come from the project's policy (file, or a steward's approval) plus the steward's
top-ups recorded in the store; spending comes from the ledger. On this host or against a
server (``--url``); a researcher's token shows their own share too.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from enclave.cli._common import cli_errors, emit
from enclave.cli._connect import Token, Url, connect
from enclave.errors import UserError
from enclave.store import BudgetStatus

__all__ = ["register"]


def _print(status: BudgetStatus) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("", "total", "spent", "remaining", title=f"Privacy budget of {status.project}")
    table.add_row(
        "ε",
        f"{status.epsilon_total:g}",
        f"{status.epsilon_spent:g}",
        f"{status.epsilon_remaining:g}",
    )
    table.add_row(
        "δ", f"{status.delta_total:g}", f"{status.delta_spent:g}", f"{status.delta_remaining:g}"
    )
    if status.member is not None:
        total = "-" if status.member_epsilon_total is None else f"{status.member_epsilon_total:g}"
        table.add_row(
            f"ε of {status.member}",
            total,
            f"{status.member_epsilon_spent:g}",
            f"{status.member_epsilon_remaining:g}",
        )
    _rho_rows(table, status)
    console = Console()
    console.print(table)
    if status.accounting == "zcdp":
        console.print(
            f"Accounted in ρ (zCDP): ρ adds up; ε is what ρ implies at δ = "
            f"{status.conversion_delta:g} (OpenDP's conversion)."
        )
    if status.epsilon_reserved:
        console.print(f"Of the ε spent, {status.epsilon_reserved:g} is held by requests in flight.")
    console.print(f"Composition: {status.composition}.")


def _rho_rows(table: Any, status: BudgetStatus) -> None:
    """A zcdp project's ρ: the project's, and the member's when shown."""
    if status.accounting != "zcdp":
        return
    table.add_row(
        "ρ", f"{status.rho_total:.6g}", f"{status.rho_spent:.6g}", f"{status.rho_remaining:.6g}"
    )
    if status.member is not None and status.member_rho_spent is not None:
        total = "-" if status.member_rho_total is None else f"{status.member_rho_total:.6g}"
        table.add_row(
            f"ρ of {status.member}",
            total,
            f"{status.member_rho_spent:.6g}",
            f"{status.member_rho_remaining:.6g}",
        )


def budget(
    ctx: typer.Context,
    project: Annotated[str | None, typer.Option("--project", "-p", help="Project id.")] = None,
    user: Annotated[str | None, typer.Option("--user", "-u", help="Also show this member.")] = None,
    url: Url = None,
    token: Token = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a project's ε and δ: total, spent and remaining, and the composition rule."""
    if ctx.invoked_subcommand is not None:
        return
    with cli_errors(as_json):
        if project is None:
            raise UserError("Name the project: enclave budget --project P.")
        status = BudgetStatus(**connect(url, token).project_budget(project, user))
        if as_json:
            emit(status.to_json())
        else:
            _print(status)


def register(app: typer.Typer) -> None:
    group = typer.Typer(invoke_without_command=True, help="Privacy budgets: show, top up.")
    group.callback()(budget)
    try:  # ``enclave budget top-up`` lives with the steward verbs
        from enclave.cli._steward import top_up
    except ImportError:  # pragma: no cover
        pass
    else:
        group.command("top-up")(top_up)
    from enclave.cli._budget_dataset import dataset_budget

    group.command("dataset")(dataset_budget)
    app.add_typer(group, name="budget")
