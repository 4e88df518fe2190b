"""The sample project's training script for the test suite: the same inputs, params and outputs
as sample_project/train.py (a seeded least-squares fit of data/dataset.csv; metrics.json and
models/model.joblib), in plain Python. scikit-learn's import costs about a second per run and
numpy's a tenth; the tests exercise mlv, not the learner, and this runs in a few hundredths. Its
metrics are not scikit-learn's (another seeded split), but depend on the data, the params and
the seed in the same way. The tutorial test runs the real script.
"""

from __future__ import annotations

import json
import math
import pickle
import random
from pathlib import Path

import yaml


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """x with MATRIX @ x = VECTOR, by Gaussian elimination with partial pivoting."""
    n = len(vector)
    rows = [[*matrix[i], vector[i]] for i in range(n)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(rows[r][col]))
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(col + 1, n):
            factor = rows[r][col] / rows[col][col]
            rows[r] = [a - factor * b for a, b in zip(rows[r], rows[col], strict=True)]
    solution = [0.0] * n
    for i in reversed(range(n)):
        solution[i] = (rows[i][n] - sum(rows[i][j] * solution[j] for j in range(i + 1, n))) / rows[i][i]
    return solution


def main() -> None:
    params = yaml.safe_load(Path("params.yaml").read_text())["train"]
    lines = Path("data/dataset.csv").read_text().splitlines()[1:]
    table = [[float(value) for value in line.split(",")] for line in lines if line]
    order = list(range(len(table)))
    random.Random(params["seed"]).shuffle(order)  # noqa: S311 - a seeded split, not a secret
    n_test = math.ceil(len(table) * params["test_size"])
    test, train = [table[i] for i in order[:n_test]], [table[i] for i in order[n_test:]]

    def design(row: list[float]) -> list[float]:
        return [*row[:-1], 1.0] if params["fit_intercept"] else row[:-1]

    features = [design(row) for row in train]
    width = len(features[0])
    gram = [[sum(x[i] * x[j] for x in features) for j in range(width)] for i in range(width)]
    moments = [sum(x[i] * row[-1] for x, row in zip(features, train, strict=True)) for i in range(width)]
    coef = _solve(gram, moments)
    errors = [row[-1] - sum(c * x for c, x in zip(coef, design(row), strict=True)) for row in test]
    mse = sum(e * e for e in errors) / len(errors)
    mean = sum(row[-1] for row in test) / len(test)
    r2 = 1.0 - mse / (sum((row[-1] - mean) ** 2 for row in test) / len(test))
    Path("models").mkdir(exist_ok=True)
    Path("models/model.joblib").write_bytes(pickle.dumps([round(c, 12) for c in coef], protocol=4))
    metrics = {"mse": round(mse, 10), "r2": round(r2, 10), "n_train": len(train)}
    Path("metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"mse={metrics['mse']:.6f} r2={metrics['r2']:.6f} on {len(test)} held-out rows")


if __name__ == "__main__":
    main()
