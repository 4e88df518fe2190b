"""Taking a snapshot: running the command and publishing one experiment commit."""
