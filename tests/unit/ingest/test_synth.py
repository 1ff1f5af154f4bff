"""The synthetic NHI-style extract generator and ``enclave synth``.

A small independent validator re-checks every line of every file: injected lines must
have exactly their recorded defect and every other line must be clean. Assertions are on
counts and booleans only, so a failure never prints an identifier.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from enclave.cli import app
from pseudonymize.national_id import is_valid
from pseudonymize.synth import FILES, generate
from pseudonymize.synth._errors import REASONS, bad_counts
from pseudonymize.synth._places import REGIONS

PERSONS, SEED = 5000, 7
INSURANCE = {"employee", "self_employed", "farmer", "low_income", "dependent", "other"}
SETTINGS = {"outpatient", "inpatient", "emergency", "pharmacy"}
ICD = re.compile(r"^[A-Z][0-9]{2}(\.[0-9]{1,2})?$")
ATC = re.compile(r"^[A-Z][0-9]{2}[A-Z]{2}[0-9]{2}$")
AMOUNT = re.compile(r"^-?[0-9]+\.[0-9]{2}$")


@pytest.fixture(scope="module")
def extract(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "e1"
    generate(out, persons=PERSONS, seed=SEED)
    return out


@pytest.fixture(scope="module")
def second(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "e2"
    generate(out, persons=PERSONS, seed=SEED, extract_no=2)
    return out


def rows(folder: Path, name: str) -> list[list[str]]:
    with (folder / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def iso(value: str, lo: str, hi: str) -> bool:
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return False
    try:
        return (
            dt.date.fromisoformat(lo) <= dt.date.fromisoformat(value) <= dt.date.fromisoformat(hi)
        )
    except ValueError:
        return False


def person_defects(f: list[str], seen: set[str]) -> set[str]:
    if len(f) != 7:
        return {"wrong_column_count"}
    nid, name, birth, sex, address, region, insurance = f
    out = set()
    if not is_valid(nid):
        out.add("bad_check_digit")
    elif nid[1] != {"M": "1", "F": "2"}.get(sex) or nid in seen:
        out.add("other")
    if not iso(birth, "1920-01-01", "2024-12-31"):
        out.add("malformed_date")
    if region not in REGIONS or insurance not in INSURANCE or not name.strip():
        out.add("other")
    if not address.endswith("; " + region):
        out.add("other")
    seen.add(nid)
    return out


def person_ref(nid: str, persons: dict[str, str]) -> set[str]:
    if not is_valid(nid):
        return {"bad_check_digit"}
    return set() if nid in persons else {"unknown_person"}


def claim_defects(f, persons, providers, seen, prefix) -> set[str]:
    if len(f) != 8:
        return {"wrong_column_count"}
    claim_no, nid, provider, day, setting, icd, amount, los = f
    out = person_ref(nid, persons)
    if claim_no in seen:
        out.add("duplicate_claim_id")
    seen.add(claim_no)
    if not iso(day, "2023-01-01", "2024-12-31"):
        out.add("malformed_date")
    if AMOUNT.match(amount) and amount.startswith("-"):
        out.add("negative_amount")
    ok_icd = ICD.match(icd) or (icd == "" and setting == "pharmacy")
    ok_los = los.isdigit() and (int(los) > 0) == (setting == "inpatient")
    if not (re.fullmatch(prefix + r"[0-9]{9}", claim_no) and provider in providers and ok_icd):
        out.add("other")
    if setting not in SETTINGS or not ok_los or not AMOUNT.match(amount):
        out.add("other")
    return out


def detail_defects(f, n, persons, claims) -> set[str]:
    if len(f) != n:
        return {"wrong_column_count"}
    out = person_ref(f[1], persons)
    if f[0] not in claims or (not out and claims[f[0]][0] != f[1]):
        out.add("other")
    return out


def validate(folder: Path) -> dict[str, list[set[str]]]:
    """Defects of every data line, file by file (index 0 is line 2)."""
    prefix = "C" + str(json.loads((folder / "extract.json").read_text())["extract_no"]) + "-"
    seen: set[str] = set()
    p_rows = rows(folder, "persons.csv")[1:]
    defects = {"persons.csv": [person_defects(f, seen) for f in p_rows]}
    persons = {f[0]: f[3] for f, d in zip(p_rows, defects["persons.csv"]) if not d}
    v_rows = rows(folder, "providers.csv")[1:]
    defects["providers.csv"] = [set() if len(f) == 4 else {"wrong_column_count"} for f in v_rows]
    providers = {f[0] for f in v_rows if len(f) == 4}
    c_rows, seen = rows(folder, "claims.csv")[1:], set()
    defects["claims.csv"] = [claim_defects(f, persons, providers, seen, prefix) for f in c_rows]
    claims = {f[0]: (f[1], f[5]) for f, d in zip(c_rows, defects["claims.csv"]) if not d}
    d_defects, positions = [], set()
    for f in rows(folder, "diagnoses.csv")[1:]:
        d = detail_defects(f, 4, persons, claims)
        if len(f) == 4:
            key = (f[0], f[2])
            bad_primary = f[2] == "1" and f[0] in claims and claims[f[0]][1] != f[3]
            if key in positions or bad_primary or not ICD.match(f[3]):
                d.add("other")
            positions.add(key)
        d_defects.append(d)
    defects["diagnoses.csv"] = d_defects
    r_defects = []
    for f in rows(folder, "prescriptions.csv")[1:]:
        d = detail_defects(f, 5, persons, claims)
        if len(f) == 5:
            if f[4].startswith("-"):
                d.add("negative_amount")
            if not (ATC.match(f[2]) and f[3].isdigit() and 1 <= int(f[3]) <= 90):
                d.add("other")
        r_defects.append(d)
    defects["prescriptions.csv"] = r_defects
    return defects


def truth(folder: Path) -> dict[tuple[str, int], str]:
    t = rows(folder, "_injected.csv")
    assert t[0] == ["file", "line", "reason"]
    return {(f, int(line)): reason for f, line, reason in t[1:]}


def sha(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_every_injected_line_has_its_defect_and_every_other_is_clean(extract: Path) -> None:
    injected = truth(extract)
    for name, line_defects in validate(extract).items():
        wrong = [
            i + 2
            for i, d in enumerate(line_defects)
            if d != ({injected[(name, i + 2)]} if (name, i + 2) in injected else set())
        ]
        assert not wrong, f"{name}: {len(wrong)} lines disagree with the truth file"


def test_injected_counts_match_the_documented_shares(extract: Path) -> None:
    injected = Counter((f, r) for (f, _), r in truth(extract).items())
    meta = json.loads((extract / "extract.json").read_text())
    for name in FILES:
        good = meta["files"][name] - sum(k for (f, _), k in injected.items() if f == name)
        assert {r: k for (f, r), k in injected.items() if f == name} == bad_counts(name, good)
    claim_reasons = {r for (f, r) in injected if f == "claims.csv"}
    assert claim_reasons == set(REASONS)  # every kind, since claims has >= 1000 lines
    assert set(meta["injected"]) == set(REASONS)


def test_extract_json_counts_lines(extract: Path) -> None:
    meta = json.loads((extract / "extract.json").read_text())
    assert (meta["format"], meta["seed"], meta["persons"], meta["extract_no"]) == (
        "nhi", SEED, PERSONS, 1,
    )  # fmt: skip
    for name in FILES:
        data = (extract / name).read_bytes()
        lines, stated = data.count(b"\n") - 1, meta["files"][name]
        unquoted = b'"' not in data and b"'" not in data and b"\r" not in data
        assert lines == stated and unquoted


def test_national_ids_valid_and_sex_digit_consistent(extract: Path) -> None:
    injected = truth(extract)
    p = rows(extract, "persons.csv")
    clean = [f for i, f in enumerate(p[1:]) if ("persons.csv", i + 2) not in injected]
    n_clean, n_distinct = len(clean), len({f[0] for f in clean})
    n_invalid = sum(not is_valid(f[0]) for f in clean)
    n_sex_mismatch = sum(f[0][1] != ("1" if f[3] == "M" else "2") for f in clean)
    female = sum(f[3] == "F" for f in clean) / PERSONS
    assert n_clean == n_distinct == PERSONS
    assert n_invalid == 0 and n_sex_mismatch == 0
    assert 0.4 < female < 0.6


def test_population_shape(extract: Path) -> None:
    p = rows(extract, "persons.csv")[1:]
    regions = Counter(f[5] for f in p if len(f) == 7)
    assert set(regions) <= set(REGIONS) and len(regions) >= 18
    assert regions.most_common(1)[0][0] in {"New Taipei", "Taichung", "Kaohsiung", "Taipei"}
    assert regions["Lienchiang"] < 0.005 * PERSONS
    births = [f[2] for f in p if len(f) == 7 and iso(f[2], "1920-01-01", "2024-12-31")]
    assert sum(b < "1935-01-01" for b in births) > 0.004 * PERSONS  # over 89: top-coded
    assert sum(b > "2006-12-31" for b in births) > 0.1 * PERSONS
    n_providers = len(rows(extract, "providers.csv")) - 1
    assert n_providers == max(50, PERSONS // 500)


def test_claims_volume_amounts_and_super_utilisers(extract: Path) -> None:
    c = [f for f in rows(extract, "claims.csv")[1:] if len(f) == 8]
    n_claims = len(c)
    assert 7 * PERSONS < n_claims < 14 * PERSONS
    most = max(Counter(f[1] for f in c).values())
    assert most >= 150  # super-utilisers
    out = sorted(float(f[6]) for f in c if f[4] == "outpatient")
    inp = sorted(float(f[6]) for f in c if f[4] == "inpatient")
    out_median, inp_median, inp_max = out[len(out) // 2], inp[len(inp) // 2], inp[-1]
    assert 600 < out_median < 1000
    assert inp_median > 10 * out_median
    assert inp_max > 5 * inp_median  # heavy tail
    assert {f[4] for f in c} == SETTINGS
    codes = Counter(f[5] for f in c)
    assert len(codes) > 150 and codes.most_common(1)[0][1] > 20 * codes.most_common(100)[-1][1]


def test_influenza_peaks_in_winter_and_covid_in_waves(extract: Path) -> None:
    c = [f for f in rows(extract, "claims.csv")[1:] if len(f) == 8 and len(f[3]) == 10]
    winter = [f for f in c if f[3][5:7] in {"12", "01", "02"}]
    summer = [f for f in c if f[3][5:7] in {"06", "07", "08"}]

    def flu_share(claims: list[list[str]]) -> float:
        return sum(f[5][:3] in {"J09", "J10", "J11"} for f in claims) / len(claims)

    winter_share, summer_share = flu_share(winter), flu_share(summer)
    assert winter_share > 4 * summer_share
    covid = Counter(f[3][:7] for f in c if f[5] == "U07.1")
    assert covid["2023-05"] > 3 * covid["2023-09"] and covid["2024-06"] > 2 * covid["2024-02"]


def test_chronic_patients(extract: Path) -> None:
    p = {f[0]: f[2] for f in rows(extract, "persons.csv")[1:] if len(f) == 7}
    adults = {k for k, b in p.items() if b <= "2004-12-31"}
    c = [f for f in rows(extract, "claims.csv")[1:] if len(f) == 8]
    dm = {f[1] for f in c if f[5].startswith("E11")} & adults
    htn = {f[1] for f in c if f[5] == "I10"} & adults
    dm_share, htn_share = len(dm) / len(adults), len(htn) / len(adults)
    assert 0.04 < dm_share < 0.13
    assert 0.12 < htn_share < 0.30
    visits = sorted(Counter(f[1] for f in c if f[5].startswith("E11")).values())
    median_visits = visits[len(visits) // 2]
    assert median_visits >= 12  # near-monthly follow-ups
    rx = [f for f in rows(extract, "prescriptions.csv")[1:] if len(f) == 5]
    assert {"A10BA02", "C08CA01", "J01CA04", "N02BE01"} <= {f[2] for f in rx}


def test_deterministic_bytes_and_seed_matters(extract: Path, tmp_path: Path) -> None:
    generate(tmp_path / "again", persons=PERSONS, seed=SEED)
    assert sha(tmp_path / "again") == sha(extract)
    generate(tmp_path / "other", persons=PERSONS, seed=SEED + 1)
    other = sha(tmp_path / "other")
    assert all(other[n] != sha(extract)[n] for n in ("persons.csv", "claims.csv"))


def test_second_extract_links_persons_with_disjoint_claims(extract: Path, second: Path) -> None:
    one, two = sha(extract), sha(second)
    assert one["persons.csv"] == two["persons.csv"] and one["providers.csv"] == two["providers.csv"]
    assert one["claims.csv"] != two["claims.csv"]
    first = {f[0] for f in rows(extract, "claims.csv")[1:]}
    later = {f[0] for f in rows(second, "claims.csv")[1:]}
    n_shared = len(first & later)
    assert n_shared == 0
    assert all(c.startswith("C2-") for c in later)
    assert json.loads((second / "extract.json").read_text())["extract_no"] == 2
    people = {f[0] for f in rows(extract, "persons.csv")[1:]}
    n_linked = len({f[1] for f in rows(second, "claims.csv")[1:] if len(f) == 8} & people)
    assert n_linked > 0.5 * PERSONS


def test_cli_entry_point_writes_an_extract(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("enclave")
    out = tmp_path / "cli"
    cmd = [str(exe), "synth", "--persons", "300", "--seed", "3", "--out", str(out), "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0
    summary = json.loads(done.stdout)
    assert summary["rows"]["persons.csv"] == 300 and set(summary["injected"]) == set(REASONS)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*FILES, "_injected.csv", "extract.json"]
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--persons", "0"],
        ["--persons", "10", "--seed", "-1"],
        ["--persons", "10", "--extract-no", "0"],
        ["--persons", "10", "--out-is-file"],
        ["--persons", "10", "--out-under-file"],
    ],
)
def test_cli_bad_arguments_exit_2_with_one_line(args: list[str], tmp_path: Path) -> None:
    out = tmp_path / "x"
    if "--out-is-file" in args or "--out-under-file" in args:
        out.write_text("not a folder")
        out = out / "sub" if "--out-under-file" in args else out
        args = args[:2]
    result = CliRunner().invoke(app, ["synth", *args, "--out", str(out)])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
