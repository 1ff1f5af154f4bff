"""Outbreak injection in the synthetic extract: more ILI claims in that region, those weeks
only; the same extract as before without one; bad specifications refused plainly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from enclave.errors import UserError
from pseudonymize.synth import Outbreak, generate

FLU = ("J09", "J10", "J11")
START, END = "2024-01-08", "2024-01-29"  # three weeks from a Monday


def _clean(folder: Path, name: str) -> pl.DataFrame:
    """A data file without its injected bad lines (``_injected.csv`` names them)."""
    bad = pl.read_csv(folder / "_injected.csv", infer_schema=False)
    skip = {int(x) for x in bad.filter(pl.col("file") == name)["line"]}
    lines = (folder / name).read_text().splitlines()
    header = lines[0].split(",")
    rows = [ln.split(",") for i, ln in enumerate(lines[1:], start=2) if i not in skip]
    return pl.DataFrame(rows, schema=header, orient="row")


def _ili(folder: Path) -> pl.DataFrame:
    claims = _clean(folder, "claims.csv")
    persons = _clean(folder, "persons.csv")
    persons = persons.unique("national_id", keep="first").select("national_id", "region")
    flu = claims.filter(pl.col("icd10").str.slice(0, 3).is_in(FLU))
    return flu.join(persons, on="national_id", how="inner")


def _window(frame: pl.DataFrame, region: str, inside: bool = True) -> int:
    in_window = (pl.col("visit_date") >= START) & (pl.col("visit_date") < END)
    mask = in_window if inside else ~in_window
    return frame.filter(mask & (pl.col("region") == region)).height


@pytest.fixture(scope="module")
def extracts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    root = tmp_path_factory.mktemp("outbreak")
    plain = generate(root / "plain", persons=4000, seed=5)
    hit = generate(
        root / "hit", persons=4000, seed=5, outbreaks=(Outbreak.parse("Taichung:2024-01-08:3:2"),)
    )
    return plain.out_dir, hit.out_dir, hit.to_dict()


def test_injected_weeks_have_more_ili_claims_in_that_region(extracts) -> None:
    plain, hit, summary = extracts
    before, after = _ili(plain), _ili(hit)
    n_before, n_after = _window(before, "Taichung"), _window(after, "Taichung")
    assert n_before > 5
    assert n_after == n_before + round(n_before * 1.0)  # factor 2: twice as many
    assert summary["outbreaks"][0]["added_claims"] == n_after - n_before
    # Other regions, and the region outside the weeks, are unchanged.
    assert _window(after, "Taipei") == _window(before, "Taipei")
    assert _window(after, "Taichung", inside=False) == _window(before, "Taichung", inside=False)
    meta = json.loads((hit / "extract.json").read_text())
    assert meta["outbreaks"][0]["region"] == "Taichung"


def test_added_claims_go_to_residents_and_get_diagnoses(extracts) -> None:
    plain, hit, _ = extracts
    after = _ili(hit)
    window = after.filter((pl.col("visit_date") >= START) & (pl.col("visit_date") < END)).filter(
        pl.col("region") == "Taichung"
    )
    assert window["national_id"].n_unique() > _window(_ili(plain), "Taichung")  # new persons
    dx = _clean(hit, "diagnoses.csv")
    assert set(window["claim_no"]) <= set(dx["claim_no"])


def test_without_outbreaks_the_extract_is_unchanged(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", persons=300, seed=2)
    b = generate(tmp_path / "b", persons=300, seed=2, outbreaks=())
    assert (a.out_dir / "claims.csv").read_bytes() == (b.out_dir / "claims.csv").read_bytes()
    assert "outbreaks" not in json.loads((a.out_dir / "extract.json").read_text())


@pytest.mark.parametrize(
    "spec",
    [
        "Taipei:2024-01-08:3",
        "Atlantis:2024-01-08:3:2",
        "Taipei:2024-13-08:3:2",
        "Taipei:2024-12-23:3:2",  # past the extract's last day
        "Taipei:2024-01-08:0:2",
        "Taipei:2024-01-08:3:1",
        "Taipei:2024-01-08:3:2:measles",
    ],
)
def test_bad_outbreaks_are_refused(spec: str) -> None:
    with pytest.raises(UserError, match="--outbreak"):
        Outbreak.parse(spec)


def test_other_indicators_can_be_chosen() -> None:
    assert Outbreak.parse("Penghu:2023-05-01:2:3:covid").indicator == "covid"
    assert Outbreak.parse("Penghu:2023-05-01:2:3:emergency").indicator == "emergency"


def test_cli_option_is_repeatable(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "enclave", "synth", "--persons", "500", "--out",
         str(tmp_path / "x"), "--outbreak", "Taipei:2024-01-08:2:3",
         "--outbreak", "Kaohsiung:2023-05-01:2:2:covid", "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)["outbreaks"]
    assert [(o["region"], o["indicator"]) for o in got] == [
        ("Taipei", "ili"), ("Kaohsiung", "covid"),
    ]  # fmt: skip
    bad = subprocess.run(
        [sys.executable, "-m", "enclave", "synth", "--persons", "50", "--out",
         str(tmp_path / "y"), "--outbreak", "Atlantis:2024-01-08:2:3"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bad.returncode != 0 and "unknown region" in bad.stderr + bad.stdout
