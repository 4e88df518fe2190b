"""The sample project's training script for the test suite: the same inputs, params and outputs
as sample_project/train.py (a seeded least-squares fit of data/dataset.csv; metrics.json and
models/model.joblib), with numpy alone instead of scikit-learn, whose import alone costs about a
second per run. The tests exercise mlv, not the learner; the tutorial test runs the real one.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import yaml


def main() -> None:
    params = yaml.safe_load(Path("params.yaml").read_text())["train"]
    table = np.loadtxt("data/dataset.csv", delimiter=",", skiprows=1, ndmin=2)
    order = np.random.RandomState(params["seed"]).permutation(len(table))
    n_test = int(np.ceil(len(table) * params["test_size"]))
    test, train = table[order[:n_test]], table[order[n_test:]]

    def design(rows: np.ndarray) -> np.ndarray:
        features = rows[:, :-1]
        return np.hstack([features, np.ones((len(rows), 1))]) if params["fit_intercept"] else features

    coef = np.linalg.lstsq(design(train), train[:, -1], rcond=None)[0]
    predicted = design(test) @ coef
    mse = float(np.mean((test[:, -1] - predicted) ** 2))
    r2 = 1.0 - mse / float(np.var(test[:, -1]))
    Path("models").mkdir(exist_ok=True)
    Path("models/model.joblib").write_bytes(pickle.dumps([round(float(c), 12) for c in coef], protocol=4))
    metrics = {"mse": round(mse, 10), "r2": round(r2, 10), "n_train": len(train)}
    Path("metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"mse={metrics['mse']:.6f} r2={metrics['r2']:.6f} on {len(test)} held-out rows")


if __name__ == "__main__":
    main()
