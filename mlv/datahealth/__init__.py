"""Data health and drift between two versions of a tabular dataset.

    profile = profile_dataset(Path("data/train.csv"))     # one streaming pass, small JSON
    result = check(profile, Profile.from_json(stored), Thresholds())   # mlv.datahealth.check
    result.ok, result.dataset_drift, result.issues

Profiling needs the optional extra (`pip install 'mlv-vcs[data]'`: pyarrow, numpy, scipy); loading a
stored profile does not. Nothing here touches git or DVC: callers hand in paths and profiles.
"""

# Nothing is imported here on purpose: `mlv snapshot` imports `mlv.datahealth.store` on every run, and
# must not pay for the profiler and the statistics unless a dataset has a new version. Import from
# the modules: `profiler` (profile_dataset), `check` (check), `model` (Profile), `thresholds`.
