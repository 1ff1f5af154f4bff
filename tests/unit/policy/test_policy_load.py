"""Loading and validating steward policies: the examples load; broken files say what's wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from enclave.errors import PolicyError
from enclave.policy import load_dataset_policy, load_project_policies, load_project_policy
from tests._paths import ROOT

POLICIES = ROOT / "policies"

GOOD_DATASET = """
[tables.persons]
protected = true
person_column = "person_id"
columns.person_id = { role = "identifier" }
columns.region = { role = "key", key_set = "regions" }
columns.birth_year = { role = "numeric", lower = 1900, upper = 2026 }

[tables.providers]
protected = false
columns.provider_id = { role = "join" }

[key_sets]
regions = ["North", "South"]
weeks = { start = "2023-01-02", end = "2023-01-30", step_days = 7 }
"""


def write(tmp_path: Path, text: str, name: str = "dataset.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_example_policies_load() -> None:
    dataset = load_dataset_policy(POLICIES / "dataset.toml")
    projects = load_project_policies(POLICIES / "projects", dataset)
    assert {"demo", "pharmacy"} <= set(projects)
    claims = dataset.table("claims")
    assert claims is not None and claims.protected and claims.person_column == "person_id"
    amount = claims.column("amount")
    assert amount is not None and amount.role == "numeric" and amount.upper == 20000
    weeks = dataset.key_set("weeks")
    assert weeks is not None and weeks.values[0] == "2023-01-02" and len(weeks.values) > 100
    assert projects["pharmacy"].allowed_columns("claims") is None


def test_minimal_dataset_loads(tmp_path: Path) -> None:
    dataset = load_dataset_policy(write(tmp_path, GOOD_DATASET))
    assert [t.name for t in dataset.tables] == ["persons", "providers"]
    weeks = dataset.key_set("weeks")
    assert weeks is not None and len(weeks.values) == 5


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (('role = "key", key_set = "regions"', 'role = "boss"'), "role"),
        (("lower = 1900, upper = 2026", "lower = 1900"), "bounds"),
        (("lower = 1900, upper = 2026", "lower = 2026, upper = 1900"), "bounds"),
        (('person_column = "person_id"', 'person_column = "nobody"'), "person_column"),
        (('key_set = "regions"', 'key_set = "nowhere"'), "unknown key set"),
        (('regions = ["North", "South"]', 'regions = ["North", "North"]'), "distinct"),
        (("step_days = 7", "step_weeks = 1"), "step"),
        (('end = "2023-01-30"', 'end = "2022-01-30"'), "ends before"),
        (("[tables.providers]", "[tables.Providers]"), "lower case"),
        (
            ('columns.person_id = { role = "identifier" }', 'columns.person_id = { role = "key" }'),
            "identifier",
        ),
    ],
)
def test_broken_dataset_policies_are_refused(
    tmp_path: Path, change: tuple[str, str], match: str
) -> None:
    old, new = change
    assert old in GOOD_DATASET
    with pytest.raises(PolicyError, match=match):
        load_dataset_policy(write(tmp_path, GOOD_DATASET.replace(old, new)))


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ("[limits]\nmax_in_list = 0\n", "positive integer"),
        ("[limits]\nmax_joins = 2.5\n", "positive integer"),
        ("[limits]\nmax_everything = 3\n", "unknown setting"),
        ("[contribution]\nrows_per_person = 0\n", "rows_per_person"),
        ("[contribution]\nauto_epsilon_share = 1.5\n", "auto_epsilon_share"),
        (
            '[[public_key_exprs]]\ntable = "nosuch"\nexpression = "x"\nkey_set = "weeks"\n',
            "unknown table",
        ),
        (
            '[[public_key_exprs]]\ntable = "persons"\nexpression = "x"\nkey_set = "nope"\n',
            "unknown key set",
        ),
    ],
)
def test_bad_limits_and_settings(tmp_path: Path, extra: str, match: str) -> None:
    with pytest.raises(PolicyError, match=match):
        load_dataset_policy(write(tmp_path, GOOD_DATASET + extra))


def test_missing_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="does not exist"):
        load_dataset_policy(tmp_path / "absent.toml")
    with pytest.raises(PolicyError, match="not valid TOML"):
        load_dataset_policy(write(tmp_path, "[tables\n"))
    with pytest.raises(PolicyError, match="no \\[tables"):
        load_dataset_policy(write(tmp_path, "[dataset]\nname = 'x'\n"))


GOOD_PROJECT = """
[project]
id = "p1"
members = ["a@x"]
epsilon = 2.0
delta = 0.0
max_epsilon_per_query = 0.5
[project.tables]
persons = ["region"]
"""


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (('id = "p1"', 'name = "p1"'), "id"),
        (("epsilon = 2.0", "epsilon = 0"), "epsilon"),
        (("max_epsilon_per_query = 0.5", "max_epsilon_per_query = 5"), "max_epsilon_per_query"),
        (("delta = 0.0", "delta = 1.5"), "delta"),
        (('persons = ["region"]', 'claims = ["amount"]'), "not in the dataset"),
        (('persons = ["region"]', 'persons = ["salary"]'), "not in the dataset"),
        (('members = ["a@x"]', 'members = "a@x"'), "members"),
        (('members = ["a@x"]', 'members = ["a@x"]\nstatus = "paused"'), "status"),
    ],
)
def test_broken_project_policies_are_refused(
    tmp_path: Path, change: tuple[str, str], match: str
) -> None:
    dataset = load_dataset_policy(write(tmp_path, GOOD_DATASET))
    old, new = change
    assert old in GOOD_PROJECT
    path = write(tmp_path, GOOD_PROJECT.replace(old, new), "p1.toml")
    with pytest.raises(PolicyError, match=match):
        load_project_policy(path, dataset)


def test_duplicate_project_ids(tmp_path: Path) -> None:
    folder = tmp_path / "projects"
    folder.mkdir()
    write(folder, GOOD_PROJECT, "a.toml")
    write(folder, GOOD_PROJECT, "b.toml")
    with pytest.raises(PolicyError, match="defined twice"):
        load_project_policies(folder)


def test_good_project_loads(tmp_path: Path) -> None:
    dataset = load_dataset_policy(write(tmp_path, GOOD_DATASET))
    project = load_project_policy(write(tmp_path, GOOD_PROJECT, "p1.toml"), dataset)
    assert project.id == "p1" and project.status == "active"
    assert project.allowed_columns("persons") == ("region",)
