"""``enclave synth``: write a synthetic identified NHI-style extract.

Prints counts only (lines per file, injected bad lines per reason); never a value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from enclave.cli._common import cli_errors, emit

__all__ = ["register", "synth"]


def synth(
    persons: Annotated[int, typer.Option("--persons", help="Number of persons (1 or more).")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (created if missing).")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed; same seed, same persons.")] = 0,
    extract_no: Annotated[
        int,
        typer.Option("--extract-no", help="Extract number; claims differ, persons do not."),
    ] = 1,
    outbreak: Annotated[
        list[str] | None,
        typer.Option(
            "--outbreak",
            help="REGION:YYYY-MM-DD:WEEKS:FACTOR[:INDICATOR] multiplies that region's ILI "
            "(or covid, emergency) cases for those weeks; repeatable.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Generate a deterministic synthetic identified extract (see docs/extract-format.md)."""
    with cli_errors(as_json):
        from pseudonymize.synth import Outbreak, generate

        outbreaks = tuple(Outbreak.parse(o) for o in outbreak or ())
        summary = generate(
            out, persons=persons, seed=seed, extract_no=extract_no, outbreaks=outbreaks
        )
        if as_json:
            emit(summary.to_dict())
            return
        typer.echo(f"Wrote extract {extract_no} to {summary.out_dir} in {summary.seconds:.1f} s")
        for name, rows in summary.rows.items():
            bad = sum(summary.injected_by_file.get(name, {}).values())
            typer.echo(f"  {name:<18} {rows:>12,} lines  ({bad:,} injected bad)")
        reasons = ", ".join(f"{r} {k:,}" for r, k in summary.injected.items())
        typer.echo(f"  injected by reason: {reasons}")
        for o in summary.outbreaks:
            typer.echo(
                f"  outbreak: {o['indicator']} in {o['region']} from {o['start']} for "
                f"{o['weeks']} weeks x{o['factor']:g} ({o['added_claims']:,} claims added)"
            )


def register(app: typer.Typer) -> None:
    app.command("synth")(synth)
