"""`mlv snapshot -S KEY=VALUE`: params set for a run only, and sweeps over their combinations."""
