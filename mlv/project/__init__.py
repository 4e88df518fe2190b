"""An mlv project: its configuration, its params files, and `mlv init`."""
