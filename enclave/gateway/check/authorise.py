"""Stage 2: may this member of this project read these tables and columns?

Checks, in order: the project exists and is active; the user is a member; WITH names do
not hide tables; every table is in the dataset policy and allowed for the project
(catalog and metadata names never are); every column resolves unambiguously and is allowed.
Column *roles* (identifier, join, …) are checked later, by ``check_shape``.

>>> from enclave.gateway.check.testing import example_context, request_state
>>> from enclave.gateway.check.parse import parse
>>> ctx = example_context()
>>> state = authorise(parse(request_state("SELECT COUNT(*) FROM claims"), ctx), ctx)
>>> state.project.id
'demo'
"""

from __future__ import annotations

from enclave.errors import PolicyViolation, QueryRejected
from enclave.gateway.check.catalog import Catalog
from enclave.gateway.check.rules.allowed_columns import allowed_columns
from enclave.gateway.check.rules.allowed_tables import allowed_tables, no_shadowing
from enclave.gateway.values import Authorised, GatewayContext, Parsed, advance
from enclave.policy import ProjectPolicy

__all__ = ["authorise"]


def _project(state: Parsed, ctx: GatewayContext) -> ProjectPolicy:
    req = state.request
    project = ctx.projects.get(req.project)
    if project is None:
        raise PolicyViolation(
            f"Unknown project '{req.project[:64]}'; ask a data steward which projects you belong to."
        )
    if project.status != "active":
        raise PolicyViolation(
            f"Project '{project.id}' is {project.status}; ask a data steward to reactivate it."
        )
    if req.user not in project.members:
        raise PolicyViolation(
            f"You are not a member of project '{project.id}'; ask a data steward to add you."
        )
    return project


def authorise(state: Parsed, ctx: GatewayContext) -> Authorised:
    """Fill ``state.project``; refuse unknown projects, non-members, tables and columns.

    Raises:
        PolicyViolation: project, membership, table or column not allowed.
        QueryRejected: a WITH name hides a table, or a name is ambiguous.
    """
    project = _project(state, ctx)
    cat = Catalog(ctx.dataset, project)
    try:
        no_shadowing(state.ast, cat)
        allowed_tables(state.ast, cat)
        allowed_columns(state.ast, cat)
    except RecursionError:
        raise QueryRejected("The query is nested too deeply; simplify it.") from None
    return advance(state, Authorised, project=project)
