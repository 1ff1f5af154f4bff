"""Stage 3: the query has a shape the back half can make private — or it is refused.

``check_shape`` copies ``state.ast`` (it never mutates a previous stage's tree) and runs
the ordered rules below; each is a small function ``rule(select, …) -> select`` in
``enclave.gateway.check.rules`` that names what else it needs (``cat``, ``limits``). On success ``state.ast`` is the final tree and
``state.normalized_sql`` its canonical text (recomputed, so that ``GROUP BY 1`` and
``GROUP BY region`` share a cache key).

Guarantees to the back half (beyond the shared contract), stated literally:

* **No WITH clause.** WITH bodies are validated (one dataset table, columns/expressions
  and WHERE only) and *inlined*: the table takes the WITH name's place under the same alias,
  output columns are replaced by their expressions, and the body's WHERE is AND-ed into
  the query's WHERE (or into the ON of a LEFT JOIN when the body is the joined side).
* **Flat FROM.** ``FROM`` is a protected dataset table; every ``JOIN`` is a dataset table
  (``exp.Table`` with only a name and an alias), INNER or LEFT, with an ON clause.
  A protected table is joined on ``<earlier>.<person col> = <it>.<person col>`` among
  the ON's AND-ed parts; public tables on at least one column equality. No subqueries.
* **Every column is qualified** with the alias (or name) of its FROM/JOIN table, except
  in HAVING and ORDER BY, which contain only *unqualified* output aliases.
* **SELECT items are all aliased** (``exp.Alias``): group keys first-class expressions equal
  (by SQL text) to a GROUP BY expression; aggregates are the top node of their item.
* **GROUP BY** holds expressions (ordinals, aliases and ALL resolved), each one selected.
* **Aggregates** are ``exp.Count`` (``*``, an expression, or ``DISTINCT`` of one person
  column), ``exp.Sum``, ``exp.Avg``, ``exp.Variance``, ``exp.VariancePop``, ``exp.Stddev``,
  ``exp.StddevSamp``, ``exp.StddevPop``, ``exp.Median`` and ``exp.PercentileCont(this=x,
  expression=q)`` (= ``QUANTILE_CONT(x, q)``; ``PERCENTILE_CONT … WITHIN GROUP`` is rewritten
  to it). No FILTER clause (refused: write CASE inside the aggregate), no DISTINCT except
  ``COUNT(DISTINCT person col)``.
* **Aggregate arguments** use numeric-role columns, numbers, + - *, ABS, LEAST, GREATEST,
  CASE/IF (numeric or NULL branches), COALESCE(x, number), CAST(x AS DOUBLE).
* **Every integer-valued leaf that is computed with is a DOUBLE** (``rules.promote_numbers``).
* **Totality**: every scalar expression is well typed (see ``rules.total_expressions``);
  nothing in WHERE/ON/keys/arguments can raise on some row.
* **LIMIT** is absent or a literal integer ≤ 10,000; no OFFSET.
* Identifiers appear only in person-column join equalities and ``COUNT(DISTINCT …)``;
  join-role columns only in equalities joining a public table.
* Identifiers are lower case; comments are dropped.

>>> from enclave.gateway.check.testing import example_context, request_state
>>> from enclave.gateway.check.parse import parse
>>> from enclave.gateway.check.authorise import authorise
>>> ctx = example_context()
>>> sql = "SELECT setting, SUM(amount) FROM claims GROUP BY 1 ORDER BY 2 DESC"
>>> state = check_shape(authorise(parse(request_state(sql), ctx), ctx), ctx)
>>> state.normalized_sql
'SELECT claims.setting AS setting, SUM(claims.amount) AS sum_amount FROM claims GROUP BY claims.setting ORDER BY sum_amount DESC'
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

from sqlglot import exp
from sqlglot.errors import SqlglotError

from enclave.errors import InternalError, QueryRejected
from enclave.gateway.check.canonical import canonical, to_sql
from enclave.gateway.check.catalog import Catalog
from enclave.gateway.check.cohorts import cohort_tables
from enclave.gateway.check.derived_tables import hoist_derived_tables
from enclave.gateway.check.person_tables import split_person_tables, with_bodies
from enclave.gateway.check.rules.allowed_columns import allowed_columns
from enclave.gateway.check.rules.allowed_nodes import allowed_nodes
from enclave.gateway.check.rules.bounded_aggregates import (
    bounded_aggregates,
    within_group_to_quantile,
)
from enclave.gateway.check.rules.deny_identifier_grouping import deny_identifier_grouping
from enclave.gateway.check.rules.inline_ctes import inline_ctes, qualify_columns
from enclave.gateway.check.rules.limit_sizes import limit_tree
from enclave.gateway.check.rules.person_join_only import person_join_only
from enclave.gateway.check.rules.post_aggregation import post_aggregation
from enclave.gateway.check.rules.promote_numbers import promote_numbers
from enclave.gateway.check.rules.require_aggregate import require_aggregate
from enclave.gateway.check.rules.total_expressions import total_expressions
from enclave.gateway.values import Authorised, Checked, GatewayContext, advance

__all__ = ["RULES", "check_shape", "run_rule"]

#: a rule takes the tree first; ``catalog``/``cat`` and ``limits`` are passed by name
#: to the rules that declare them (sqlglot's optimizer calls its rules the same way)
Rule = Callable[..., exp.Expression]

#: the ordered rules (sqlglot optimizer style); the first refusal wins
RULES: tuple[Rule, ...] = (
    allowed_nodes,
    qualify_columns,
    inline_ctes,
    allowed_columns,
    person_join_only,
    deny_identifier_grouping,
    within_group_to_quantile,
    require_aggregate,
    bounded_aggregates,
    total_expressions,
    post_aggregation,
    promote_numbers,
    limit_tree,
)


def run_rule(rule: Rule, select: exp.Select, **available: object) -> exp.Select:
    """Call ``rule`` with the tree and those of ``available`` its parameters name."""
    wanted = _parameters(rule)
    result = rule(select, **{name: value for name, value in available.items() if name in wanted})
    if not isinstance(result, exp.Select):
        raise InternalError("A shape rule returned something other than a SELECT.")
    return result


@functools.cache
def _parameters(rule: Rule) -> frozenset[str]:
    return frozenset(inspect.signature(rule).parameters)


def check_shape(state: Authorised, ctx: GatewayContext) -> Checked:
    """Check and normalise the tree; fill ``state.ast`` and ``state.normalized_sql``.

    Raises:
        QueryRejected: the shape, a function or an expression is not allowed.
        PolicyViolation: a column is used against its role.
    """
    cat = Catalog(ctx.dataset, state.project)
    select: exp.Select = state.ast.copy()
    try:
        select = cohort_tables(hoist_derived_tables(select, cat), cat)
        select, person_tables = split_person_tables(select, cat)
        cat = cat.with_tables(tuple(t.table for t in person_tables))
        for rule in RULES:
            select = run_rule(rule, select, cat=cat, limits=ctx.dataset.limits)
        normalized = to_sql(canonical(with_bodies(select, person_tables)))
    except RecursionError:
        raise QueryRejected("The query is nested too deeply; simplify it.") from None
    except SqlglotError:
        raise QueryRejected("The query could not be analysed; simplify it.") from None
    return advance(
        state, Checked, ast=select, normalized_sql=normalized, person_tables=person_tables
    )
