"""Fit a LinearRegression on data/dataset.csv with params.yaml; write metrics.json and the model.

Everything is seeded, so running it twice on the same data and params gives the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import yaml
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import train_test_split


def main() -> None:
    params = yaml.safe_load(Path("params.yaml").read_text())["train"]
    table = np.loadtxt("data/dataset.csv", delimiter=",", skiprows=1)
    features, target = table[:, :-1], table[:, -1]
    x_train, x_test, y_train, y_test = train_test_split(
        features, target, test_size=params["test_size"], random_state=params["seed"]
    )
    model = LinearRegression(fit_intercept=params["fit_intercept"]).fit(x_train, y_train)
    mse = float(mean_squared_error(y_test, model.predict(x_test)))
    Path("models").mkdir(exist_ok=True)
    joblib.dump(model, "models/model.joblib")
    metrics = {"mse": round(mse, 10), "r2": round(float(model.score(x_test, y_test)), 10),
               "n_train": len(y_train)}
    Path("metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"mse={metrics['mse']:.6f} r2={metrics['r2']:.6f} on {len(y_test)} held-out rows")


if __name__ == "__main__":
    main()
