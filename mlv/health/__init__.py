"""Data health and drift between two versions of a tabular dataset.

    profile = profile_dataset(Path("data/train.csv"))     # one streaming pass, small JSON
    result = check(profile, Profile.from_json(stored), Thresholds())
    result.ok, result.dataset_drift, result.issues

Profiling needs the optional extra (`pip install 'mlv[data]'`: pyarrow, numpy, scipy); loading a
stored profile does not. Nothing here touches git or DVC: callers hand in paths and profiles.
"""

from __future__ import annotations

from mlv.health.check import CheckResult, ColumnDrift, Issue, check
from mlv.health.errors import DataHealthError, MissingExtraError
from mlv.health.model import ColumnProfile, Profile
from mlv.health.profiler import profile_dataset, profile_table
from mlv.health.thresholds import Thresholds, thresholds_from_config

__all__ = [
    "CheckResult", "ColumnDrift", "ColumnProfile", "DataHealthError", "Issue", "MissingExtraError", "Profile",
    "Thresholds", "check", "profile_dataset", "profile_table", "thresholds_from_config",
]
