"""``enclave indicators list|release|publish|denominators|alerts``: the standing public-health indicators."""

from __future__ import annotations

from typing import Annotated

import typer

from enclave.cli._common import AsJson, cli_errors, emit, settings

__all__ = ["register"]

group = typer.Typer(
    help="Standing indicators: weekly releases under a yearly ε, published to everyone.",
    no_args_is_help=True,
)

OneIndicator = Annotated[
    str | None, typer.Option("--indicator", "-i", help="Only this indicator id.")
]


@group.command("list")
def list_(as_json: AsJson = False) -> None:
    """List the indicators, their k and ε per year, and how many weeks are released/published."""
    with cli_errors(as_json):
        from enclave.indicators import Published, indicators_of, published_path

        s = settings()
        pub = Published(published_path(s.home))
        out = []
        for ind in indicators_of(s):
            recs = pub.releases(indicator=ind.id)
            out.append(
                {
                    "id": ind.id,
                    "title": ind.title,
                    "project": ind.project,
                    "periods_per_year": ind.periods_per_year,
                    "epsilon_per_year": ind.epsilon_per_year,
                    "released": len(recs),
                    "published": sum(r.status == "published" for r in recs),
                    "latest": recs[-1].period if recs else None,
                }
            )
        if as_json:
            emit(out)
            return
        for row in out:
            typer.echo(
                f"{row['id']:<10} k {row['periods_per_year']:<2} ε/year {row['epsilon_per_year']:<5g} "
                f"released {row['released']:>3}  published {row['published']:>3}  "
                f"latest {row['latest'] or '-'}  {row['title']}"
            )


@group.command("release")
def release_(
    indicator: OneIndicator = None,
    period: Annotated[
        str | None, typer.Option("--period", help="One week, by its Monday (YYYY-MM-DD).")
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Every complete week not yet released.")
    ] = False,
    hold: Annotated[
        bool, typer.Option("--hold", help="Keep the releases for a steward to publish.")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Release the next week (or --period W, or --all) of each indicator and publish it.

    Weeks already released are skipped at no cost.
    """
    with cli_errors(as_json):
        from enclave.service import release_indicators

        summary = release_indicators(
            settings(),
            indicator=indicator,
            period=period,
            which="all" if all_ else "next",
            publish_now=not hold,
        ).to_json()
        if as_json:
            emit(summary)
            return
        typer.echo(
            f"released {summary['released']}, published {summary['published']}, "
            f"skipped {summary['skipped']} (already released), refused {summary['refused']}; "
            f"ε spent {summary['epsilon_spent']:g}"
        )
        for r in summary["refusals"]:
            typer.echo(f"  refused {r['indicator']} {r['period']}: {r['error']}", err=True)


@group.command("publish")
def publish_(
    indicator: OneIndicator = None,
    period: Annotated[str | None, typer.Option("--period", help="Only this week.")] = None,
    as_json: AsJson = False,
) -> None:
    """Publish held indicator releases (audited)."""
    with cli_errors(as_json):
        from enclave.indicators import publish

        summary = publish(settings(), indicator=indicator, period=period).to_json()
        if as_json:
            emit(summary)
            return
        typer.echo(f"published {summary['published']}")


@group.command("denominators")
def denominators_(as_json: AsJson = False) -> None:
    """Release the persons per region (for rates per 100,000) and per 10-year age band once
    each, through the gateway, charged once to the indicators' project; a second run costs
    nothing."""
    with cli_errors(as_json):
        from enclave.demo import release_denominators

        out = release_denominators(settings())
        if as_json:
            emit(out)
            return
        if not out.get("released"):
            typer.echo("already released (no cost)")
            return
        typer.echo(f"released {', '.join(out['releases'])}; ε spent {out['epsilon_spent']:g}")


@group.command("alerts")
def alerts_(
    indicator: OneIndicator = None,
    week: Annotated[str | None, typer.Option("--week", help="Only this week (Monday).")] = None,
    as_json: AsJson = False,
) -> None:
    """Every indicator × region × week with its level (none, warning, alert), the detector
    and the values behind it; the text lists warnings and alerts only."""
    with cli_errors(as_json):
        from enclave.indicators import alerts

        feed = alerts(settings(), indicator=indicator)
        if week is not None:
            feed["alerts"] = [r for r in feed["alerts"] if r["week"] == week]
        if as_json:
            emit(feed)
            return
        rows = feed["alerts"]
        flagged = [r for r in rows if r["level"] != "none"]
        typer.echo(
            f"{len(rows)} cells ({feed['detector']}; data through {feed['data_through'] or '-'}): "
            f"{sum(r['level'] == 'alert' for r in rows)} alerts, "
            f"{sum(r['level'] == 'warning' for r in rows)} warnings"
        )
        for r in flagged:
            typer.echo(
                f"  {r['level']:<7} {r['indicator']:<10} {r['week']}  {r['region']:<15} "
                f"observed {r['observed']:g}, expected {r['expected']:.1f}, "
                f"threshold {r['threshold']:g}, p {r['p_value']:.2g}"
            )


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="indicators")
