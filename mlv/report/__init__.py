"""`mlv report`: one self-contained HTML page of experiments, metrics, models and data health."""
