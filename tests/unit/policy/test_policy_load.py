"""Loading and validating steward policies: the examples load; broken files say what's wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from enclave.errors import PolicyError
from enclave.policy import load_dataset_policy, load_project_policies, load_project_policy
from tests._paths import ROOT

POLICIES = ROOT / "policies"
DATASET, PROJECT = "dataset.toml", "p1.toml"

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


def write(tmp_path: Path, text: str, name: str = DATASET) -> Path:
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
    assert amount is not None and amount.role == "numeric" and amount.upper == 5_000_000
    assert amount.auto_clamp and not claims.column("los_days").auto_clamp  # type: ignore[union-attr]
    weeks = dataset.key_set("weeks")
    assert weeks is not None and weeks.values[0] == "2023-01-02" and len(weeks.values) > 100
    assert projects["pharmacy"].allowed_columns("claims") is None


def test_minimal_dataset_loads(tmp_path: Path) -> None:
    dataset = load_dataset_policy(write(tmp_path, GOOD_DATASET))
    assert [t.name for t in dataset.tables] == ["persons", "providers"]
    weeks = dataset.key_set("weeks")
    assert weeks is not None and len(weeks.values) == 5


@pytest.mark.parametrize(
    ("name", "change", "match"),
    [
        (DATASET, ('role = "key", key_set = "regions"', 'role = "boss"'), "role"),
        (DATASET, ("lower = 1900, upper = 2026", "lower = 1900"), "bounds"),
        (DATASET, ("upper = 2026 }", 'upper = 2026, clamp = "maybe" }'), "clamp"),
        (DATASET, ('key_set = "regions" }', 'key_set = "regions", clamp = "auto" }'), "clamp"),
        (
            DATASET,
            ("lower = 1900, upper = 2026 }", 'lower = 1900, upper = 1900, clamp = "auto" }'),
            "clamp",
        ),
        (DATASET, ("lower = 1900, upper = 2026", "lower = 2026, upper = 1900"), "bounds"),
        (DATASET, ('person_column = "person_id"', 'person_column = "nobody"'), "person_column"),
        (DATASET, ('key_set = "regions"', 'key_set = "nowhere"'), "unknown key set"),
        (DATASET, ('regions = ["North", "South"]', 'regions = ["North", "North"]'), "distinct"),
        (DATASET, ("step_days = 7", "step_weeks = 1"), "step"),
        (DATASET, ('end = "2023-01-30"', 'end = "2022-01-30"'), "ends before"),
        (DATASET, ("[tables.providers]", "[tables.Providers]"), "lower case"),
        (
            DATASET,
            ('columns.person_id = { role = "identifier" }', 'columns.person_id = { role = "key" }'),
            "identifier",
        ),
        (PROJECT, ('id = "p1"', 'name = "p1"'), "id"),
        (PROJECT, ("epsilon = 2.0", "epsilon = 0"), "epsilon"),
        (
            PROJECT,
            ("max_epsilon_per_query = 0.5", "max_epsilon_per_query = 5"),
            "max_epsilon_per_query",
        ),
        (PROJECT, ("delta = 0.0", "delta = 1.5"), "delta"),
        (PROJECT, ('persons = ["region"]', 'claims = ["amount"]'), "not in the dataset"),
        (PROJECT, ('persons = ["region"]', 'persons = ["salary"]'), "not in the dataset"),
        (PROJECT, ('members = ["a@x"]', 'members = "a@x"'), "members"),
        (PROJECT, ('members = ["a@x"]', 'members = ["a@x"]\nstatus = "paused"'), "status"),
    ],
)
def test_broken_policies_are_refused(
    tmp_path: Path, name: str, change: tuple[str, str], match: str
) -> None:
    """A good dataset or project file with one change is refused, saying what is wrong."""
    dataset = load_dataset_policy(write(tmp_path, GOOD_DATASET))
    good = GOOD_DATASET if name == DATASET else GOOD_PROJECT
    old, new = change
    assert old in good
    path = write(tmp_path, good.replace(old, new), name)
    with pytest.raises(PolicyError, match=match):
        if name == DATASET:
            load_dataset_policy(path)
        else:
            load_project_policy(path, dataset)


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
