"""Taking a snapshot: running the command and publishing one experiment commit; re-validating an
experiment on drifted data (`mlv data check --on-drift reproduce`) is a snapshot too."""
