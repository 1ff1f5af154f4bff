"""``generate``: one synthetic identified NHI-style extract, written to a folder.

Random streams are derived from ``(seed, purpose)`` for persons and providers and from
``(seed, purpose, extract_no)`` for claims and what hangs off them, so every extract of
one seed shares its persons and each extract's claims are its own.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from enclave.errors import UserError
from pseudonymize.synth import _ids, _inject, _places, _sample
from pseudonymize.synth._claims import make_claims
from pseudonymize.synth._details import make_diagnoses, make_prescriptions
from pseudonymize.synth._errors import REASONS, Batch, bad_counts
from pseudonymize.synth._outbreak import Outbreak, add_outbreaks
from pseudonymize.synth._people import People, make_people
from pseudonymize.synth._providers import Providers, make_providers
from pseudonymize.synth._write import FileResult, emit, write_json

__all__ = ["FILES", "MAX_PERSONS", "SynthSummary", "generate"]

FILES = ("persons.csv", "providers.csv", "claims.csv", "diagnoses.csv", "prescriptions.csv")
MAX_PERSONS = 50_000_000


@dataclass(frozen=True)
class SynthSummary:
    """What :func:`generate` wrote: counts only, never a value."""

    out_dir: Path
    rows: dict[str, int]  # data lines per file (good + bad, header not counted)
    injected: dict[str, int]  # bad lines per reason, over all files
    seconds: float
    injected_by_file: dict[str, dict[str, int]] = field(default_factory=dict)
    #: Injected outbreaks, each with the number of claims it added (``added_claims``).
    outbreaks: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = {
            "out_dir": str(self.out_dir),
            "rows": dict(self.rows),
            "injected": dict(self.injected),
            "injected_by_file": {f: dict(r) for f, r in self.injected_by_file.items()},
            "seconds": round(self.seconds, 3),
        }
        if self.outbreaks:
            out["outbreaks"] = [dict(o) for o in self.outbreaks]
        return out


def _check(out_dir: Path, persons: int, seed: int, extract_no: int) -> None:
    if not isinstance(persons, int) or not 1 <= persons <= MAX_PERSONS:
        raise UserError(f"--persons must be a whole number from 1 to {MAX_PERSONS:,}.")
    if not isinstance(seed, int) or seed < 0:
        raise UserError("--seed must be a whole number of 0 or more.")
    if not isinstance(extract_no, int) or not 1 <= extract_no <= 999_999:
        raise UserError("--extract-no must be a whole number from 1 to 999999.")
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError("The output path is a file; give a folder (it is created if missing).")


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(list(key))


def _unknown_ids(rng: np.random.Generator, k: int, taken: np.ndarray) -> pl.Series:
    """Valid national IDs held by no line of persons.csv."""
    home = np.array([_ids.ALPHABET.index(c) for c in _places.REGION_LETTER])
    letter = home[_sample.weighted(rng, _places.POPULATION, k)]
    return _ids.to_strings(_ids.draw_unique(rng, letter, rng.integers(1, 3, k), taken))


def _persons(out_dir: Path, people: People, seed: int) -> tuple[FileResult, np.ndarray]:
    """persons.csv; also every national-ID key it holds (good and bad lines)."""
    good = people.frame()
    counts = bad_counts("persons.csv", good.height)
    rng, keys = _rng(seed, 4), [people.keys]

    def build(_: np.ndarray) -> Batch:
        batch, fresh = _inject.person_lines(rng, good, people.keys, counts)
        keys.append(fresh)
        return batch

    result = emit(out_dir / "persons.csv", good, counts, rng, build)
    return result, np.concatenate(keys)


def _providers(out_dir: Path, providers: Providers, seed: int) -> FileResult:
    good = providers.frame()
    counts, rng = bad_counts("providers.csv", good.height), _rng(seed, 5)
    return emit(
        out_dir / "providers.csv",
        good,
        counts,
        rng,
        lambda _: _inject.provider_lines(rng, good, providers.code, counts),
    )


def _claims_file(
    out_dir: Path,
    good: pl.DataFrame,
    counts: dict[str, int],
    rng: np.random.Generator,
    prefix: str,
    keys: np.ndarray,
    unknown: pl.Series,
) -> tuple[FileResult, pl.Series, pl.Series]:
    """claims.csv; also the number and the national ID of each good claim."""
    result = emit(
        out_dir / "claims.csv",
        good,
        counts,
        rng,
        lambda before: _inject.claim_lines(rng, good, counts, prefix, keys, unknown, before),
    )
    return result, good["claim_no"], good["national_id"]


def _activity(
    out_dir: Path,
    people: People,
    providers: Providers,
    taken: np.ndarray,
    seed: int,
    no: int,
    outbreaks: tuple[Outbreak, ...] = (),
) -> tuple[dict[str, FileResult], list[int]]:
    """claims.csv, diagnoses.csv and prescriptions.csv of extract ``no`` (and the claims
    each outbreak added)."""
    prefix = f"C{no}-"
    claims = make_claims(_rng(seed, 10, no), people, providers)
    added: list[int] = []
    if outbreaks:
        claims, added = add_outbreaks(_rng(seed, 16, no), claims, people, outbreaks)
    dx = make_diagnoses(_rng(seed, 11, no), claims, people)
    rx = make_prescriptions(_rng(seed, 12, no), claims, people)
    c_counts = bad_counts("claims.csv", len(claims))
    d_counts = bad_counts("diagnoses.csv", len(dx.claim))
    r_counts = bad_counts("prescriptions.csv", len(rx.claim))
    rng = _rng(seed, 13, no)
    needs = np.cumsum([0] + [c.get("unknown_person", 0) for c in (c_counts, d_counts, r_counts)])
    unknown = _unknown_ids(rng, int(needs[-1]), taken)
    u_claims, u_dx, u_rx = (unknown[needs[i] : needs[i + 1]] for i in range(3))
    national_id, provider_code = people.national_id, providers.frame()["provider_code"]

    out = {}
    out["claims.csv"], claim_no, claim_ids = _claims_file(
        out_dir, claims.frame(prefix, national_id, provider_code), c_counts, rng, prefix,
        people.keys[claims.person], u_claims,
    )  # fmt: skip
    rng_d, per_claim = _rng(seed, 14, no), np.bincount(dx.claim, minlength=len(claims))
    out["diagnoses.csv"] = emit(
        out_dir / "diagnoses.csv",
        dx.frame(claim_no, claim_ids),
        d_counts,
        rng_d,
        lambda _: _inject.diagnosis_lines(rng_d, per_claim, d_counts, prefix, claim_ids, u_dx),
    )
    rng_r, r_good = _rng(seed, 15, no), rx.frame(claim_no, claim_ids)
    out["prescriptions.csv"] = emit(
        out_dir / "prescriptions.csv",
        r_good,
        r_counts,
        rng_r,
        lambda _: _inject.prescription_lines(rng_r, r_good, r_counts, u_rx),
    )
    return out, added


def generate(
    out_dir: Path,
    persons: int,
    seed: int = 0,
    extract_no: int = 1,
    outbreaks: tuple[Outbreak, ...] = (),
) -> SynthSummary:
    """Write a synthetic identified extract of ``persons`` persons to ``out_dir``.

    Output is byte-identical for the same ``(persons, seed, extract_no, outbreaks)``; see
    docs/extract-format.md for the files, the injected bad lines and ``outbreaks``
    (``Outbreak.parse("Taipei:2024-01-08:3:2")``).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     s = generate(Path(folder), persons=50, seed=1)
    ...     names = sorted(p.name for p in s.out_dir.iterdir())
    >>> s.rows["persons.csv"], names[:2]
    (50, ['_injected.csv', 'claims.csv'])
    """
    out_dir = Path(out_dir)
    _check(out_dir, persons, seed, extract_no)
    started = time.perf_counter()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        people, providers = make_people(persons, seed), make_providers(persons, seed)
        results: dict[str, FileResult] = {}
        results["persons.csv"], taken = _persons(out_dir, people, seed)
        results["providers.csv"] = _providers(out_dir, providers, seed)
        activity, added = _activity(
            out_dir, people, providers, taken, seed, extract_no, tuple(outbreaks)
        )
        results.update(activity)
        done = tuple(
            {**o.to_dict(), "added_claims": n} for o, n in zip(outbreaks, added, strict=True)
        )
        return _finish(out_dir, persons, seed, extract_no, results, started, done)
    except OSError as exc:
        raise UserError(
            f"Cannot write the extract ({exc.strerror or type(exc).__name__}); "
            "check that the output folder is writable and the disk has room."
        ) from None


def _finish(
    out_dir: Path,
    persons: int,
    seed: int,
    extract_no: int,
    results: dict[str, FileResult],
    started: float,
    outbreaks: tuple[dict[str, Any], ...] = (),
) -> SynthSummary:
    truth = [(f, line, reason) for f in FILES for line, reason in sorted(results[f][1])]
    pl.DataFrame(
        {
            "file": [t[0] for t in truth],
            "line": [t[1] for t in truth],
            "reason": [t[2] for t in truth],
        },
        schema={"file": pl.String, "line": pl.Int64, "reason": pl.String},
    ).write_csv(out_dir / "_injected.csv", quote_style="never")
    by_reason = Counter(t[2] for t in truth)
    injected = {r: by_reason[r] for r in REASONS}
    by_file = {f: dict(Counter(r for _, r in results[f][1])) for f in FILES}
    rows = {f: results[f][0] for f in FILES}
    meta: dict[str, Any] = {
        "format": "nhi",
        "version": 1,
        "extract_no": extract_no,
        "seed": seed,
        "persons": persons,
        "files": rows,
        "injected": injected,
    }
    if outbreaks:
        meta["outbreaks"] = list(outbreaks)
    write_json(out_dir / "extract.json", meta)
    seconds = time.perf_counter() - started
    return SynthSummary(out_dir, rows, injected, seconds, by_file, outbreaks)
