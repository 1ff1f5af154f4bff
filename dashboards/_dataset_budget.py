"""The steward's view of one person's total privacy loss across the dataset's projects.

``summary``, ``rows`` and ``indicator_rows`` are plain data from ``Service.dataset_budget``
(which checks the steward role); ``render`` draws them: one line against the ceiling, a
small table of projects, and the standing indicators' ε per year and over their lifetime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from enclave.service import Principal

__all__ = ["caption", "indicator_rows", "render", "rows", "summary"]


def summary(svc: Any, steward: Principal) -> dict[str, Any]:
    """The dataset's totals, spending and ceiling as JSON-ready data."""
    return dict(svc.dataset_budget(steward))


def _num(value: float | None) -> str:
    return "no ceiling" if value is None else f"{value:g}"


def rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per project and one for the total, as the page's table shows them."""
    out = [
        {
            "project": p["project"],
            "kind": p["kind"],
            "status": p["status"],
            "ε": p["epsilon"],
            "ε spent": p["epsilon_spent"],
            "δ": p["delta"],
            "δ spent": p["delta_spent"],
        }
        for p in data["projects"]
    ]
    out.append(
        {
            "project": "total (one person)",
            "kind": "",
            "status": "",
            "ε": data["epsilon_total"],
            "ε spent": data["epsilon_spent"],
            "δ": data["delta_total"],
            "δ spent": data["delta_spent"],
        }
    )
    return out


def indicator_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per standing indicator: k, ε per year, ε charged each year and in total."""
    years = sorted(data.get("indicators_epsilon_by_year", {}))
    out = []
    for i in data.get("indicators", []):
        row: dict[str, Any] = {
            "indicator": i["indicator"],
            "k (weeks per person per year)": i["periods_per_year"],
            "ε per year": i["epsilon_per_year"],
        }
        row.update({f"ε {y}": i["epsilon_by_year"].get(y, 0.0) for y in years})
        row["ε lifetime"] = i["epsilon_lifetime"]
        out.append(row)
    if out:
        total: dict[str, Any] = {"indicator": "all (one person)", "k (weeks per person per year)": None,
                                 "ε per year": None}  # fmt: skip
        total.update({f"ε {y}": data["indicators_epsilon_by_year"][y] for y in years})
        total["ε lifetime"] = data["indicators_epsilon_lifetime"]
        out.append(total)
    return out


def caption(data: dict[str, Any]) -> str:
    """One line: the total against the ceiling, and what is left for new budget."""
    line = (
        f"Dataset {data['dataset']}: its projects may spend ε {data['epsilon_total']:g} "
        f"and δ {data['delta_total']:g} on one person (ceiling ε "
        f"{_num(data['epsilon_ceiling'])}, δ {_num(data['delta_ceiling'])})."
    )
    if data["epsilon_remaining"] is not None or data["delta_remaining"] is not None:
        line += (
            f" Left for approvals and top-ups: ε {_num(data['epsilon_remaining'])}, "
            f"δ {_num(data['delta_remaining'])}."
        )
    return line + f" Composition: {data['composition']}."


def render(svc: Any, steward: Principal) -> None:
    import streamlit as st

    st.subheader("Privacy loss across projects (one person)")
    data = summary(svc, steward)
    st.caption(caption(data))
    st.dataframe(rows(data), hide_index=True, width="stretch")
    standing = indicator_rows(data)
    if standing:
        st.caption(
            "Standing indicators (user-level continual release): ε charged per calendar year "
            "and over their lifetime so far, the worst case for a person who qualifies in "
            "every indicator every year. Each is part of its project's budget above."
        )
        st.dataframe(standing, hide_index=True, width="stretch")
