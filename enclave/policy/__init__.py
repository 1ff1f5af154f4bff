"""Steward-owned policies: datasets and projects."""

from enclave.policy._load import load_dataset_policy, load_project_policies, load_project_policy
from enclave.policy._model import (
    ColumnPolicy,
    ContributionPolicy,
    DatasetPolicy,
    KeySet,
    Limits,
    PrivacyCeiling,
    ProjectPolicy,
    PublicKeyExpr,
    TablePolicy,
)

__all__ = [
    "ColumnPolicy",
    "ContributionPolicy",
    "DatasetPolicy",
    "KeySet",
    "Limits",
    "PrivacyCeiling",
    "ProjectPolicy",
    "PublicKeyExpr",
    "TablePolicy",
    "load_dataset_policy",
    "load_project_policies",
    "load_project_policy",
]
