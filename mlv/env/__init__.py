"""The Python environment: capture, lockfiles, checks and fresh environments."""
