"""Comparing experiments on code, data, environment, params and metrics."""
