"""Verdicts: how a re-run compares with its record, and whether a saved verdict's evidence holds."""
