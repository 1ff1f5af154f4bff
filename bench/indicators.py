"""The standing indicators' trade-off: the bound k against the weekly SE and the bias.

For an enclave home (built by ``enclave demo``), per indicator and calendar year of the
``weeks`` key set, reads on the warehouse (read-only, exact: this is a measurement of the
synthetic data, never released) how many distinct weeks each person qualifies in, and
prints for k = 1, 2, 3, 4, 6:

* the weekly regional SE at the policy's ε per year (discrete Laplace of scale k / ε);
* the ε per year that k needs for a weekly SE ≤ 2, and what three indicators then cost
  over the two years;
* the bias of the bound: the share of persons counted in a year who lose at least one
  week (they qualify in more than k) and the share of person-weeks dropped.

Then the before/after figures: the total ε of the two years, the weekly SE, and the
bias at the policy's k.

    .venv/bin/python bench/indicators.py --home DIR [--epsilon-per-year 1.6]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import duckdb

from enclave.indicators import indicators_of, year_of_week, year_sql
from enclave.noise import discrete_laplace_std
from enclave.policy import load_dataset_policy
from enclave.settings import Settings

KS = (1, 2, 3, 4, 6)
TARGET_SE = 2.0


def _weeks_per_person(con: duckdb.DuckDBPyConnection, qualifies: str, year: int) -> dict:
    """Number of persons by how many distinct weeks of ``year`` they qualify in."""
    sql = f"""
    WITH q AS (
      SELECT DISTINCT c.person_id, CAST(date_trunc('week', c.visit_date) AS DATE) AS week
      FROM claims AS c WHERE ({qualifies}))
    SELECT n, COUNT(*) FROM (
      SELECT person_id, COUNT(*) AS n FROM q WHERE year(week) = {int(year)} GROUP BY 1)
    GROUP BY n"""
    return {int(n): int(c) for n, c in con.execute(sql).fetchall()}


def _weekly_drop(con: duckdb.DuckDBPyConnection, ind, year: int, weeks: list[str]) -> tuple:
    """Per week, the share of the exact (unbounded) national count the bound drops:
    mean over the weeks and the worst week, and the mean over the year's last 13 weeks."""
    import dataclasses

    def totals(k: int) -> dict[str, int]:
        sql = year_sql(dataclasses.replace(ind, periods_per_year=k), year=year, weeks=weeks)
        out: dict[str, int] = {}
        for week, _key, n in con.execute(sql).fetchall():
            out[str(week)] = out.get(str(week), 0) + int(n)
        return out

    full, kept = totals(53), totals(ind.periods_per_year)
    drops = [1 - kept.get(w, 0) / full[w] for w in weeks if full.get(w)]
    late = drops[-13:]
    return 100 * sum(drops) / len(drops), 100 * max(drops), 100 * sum(late) / len(late)


def _scale_for_se(target: float) -> float:
    lo, hi = 1e-3, 100.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if discrete_laplace_std(mid) <= target else (lo, mid)
    return lo


def _bias(hist: dict, k: int) -> tuple[float, float]:
    persons = sum(hist.values())
    pw = sum(n * c for n, c in hist.items())
    lost = sum(c for n, c in hist.items() if n > k)
    dropped = sum((n - k) * c for n, c in hist.items() if n > k)
    return 100 * lost / max(persons, 1), 100 * dropped / max(pw, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--epsilon-per-year", type=float, default=None)
    args = ap.parse_args()
    settings = Settings(home=args.home)
    inds = indicators_of(settings)
    weeks = load_dataset_policy(settings.policies_dir / "dataset.toml").key_set("weeks")
    assert weeks is not None
    years = sorted({year_of_week(str(w)) for w in weeks.values})
    eps = args.epsilon_per_year or inds[0].epsilon_per_year
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    hists = {(i.id, y): _weeks_per_person(con, i.qualifies, y) for i in inds for y in years}
    in_year = {y: [str(w) for w in weeks.values if year_of_week(str(w)) == y] for y in years}
    drops = {(i.id, y): _weekly_drop(con, i, y, in_year[y]) for i in inds for y in years}
    con.close()
    need = _scale_for_se(TARGET_SE)
    print(f"weeks {weeks.values[0]} … {weeks.values[-1]} ({len(weeks.values)}), years {years}")
    head = " ".join(f"{i.id + ' %p/%pw':>22}" for i in inds)
    print(f"{'k':>2} {'SE@ε=' + format(eps, 'g'):>9} {'ε/yr SE≤2':>10} {'2-yr total':>10} {head}")
    for k in KS:
        se = discrete_laplace_std(k / eps)
        eps_needed = k / need
        cells = []
        for i in inds:
            lost = [_bias(hists[(i.id, y)], k) for y in years]
            p = max(x[0] for x in lost)
            pw = max(x[1] for x in lost)
            cells.append(f"{p:>10.1f}/{pw:<11.1f}")
        total = eps_needed * len(inds) * len(years)
        print(f"{k:>2} {se:>9.2f} {eps_needed:>10.2f} {total:>10.1f} {' '.join(cells)}")
    print("(bias: the larger of the years; % of persons counted in a year who lose a week /")
    print(" % of person-weeks dropped)")
    k = inds[0].periods_per_year
    print(
        f"before: ε 1 per indicator-week, {len(weeks.values)} weeks × {len(inds)} = "
        f"{len(weeks.values) * len(inds)}; weekly SE {discrete_laplace_std(1.0):.2f}; no bias"
    )
    after = sum(i.epsilon_per_year for i in inds) * len(years)
    ses = {f"{discrete_laplace_std(i.periods_per_year / i.epsilon_per_year):.2f}" for i in inds}
    print(f"after: ε {after:g} for {len(years)} years; weekly SE {', '.join(sorted(ses))}; k {k}")
    for i in inds:
        for y in years:
            p, pw = _bias(hists[(i.id, y)], i.periods_per_year)
            n = sum(hists[(i.id, y)].values())
            mean, worst, late = drops[(i.id, y)]
            print(f"  {i.id:<10} {y}: {n:>5} persons; {p:.1f}% lose a week, {pw:.1f}% of "
                  f"person-weeks dropped; weekly count low by {mean:.1f}% on average, "
                  f"{late:.1f}% in the last 13 weeks, {worst:.1f}% at worst")  # fmt: skip
    assert math.isfinite(after)


if __name__ == "__main__":
    main()
