"""Tracked data in the work tree: hashing, restoring, cache objects and path safety."""
