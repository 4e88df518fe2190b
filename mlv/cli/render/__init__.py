"""Turning core results into terminal text and Markdown."""
