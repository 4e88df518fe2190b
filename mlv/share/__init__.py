"""`mlv push` and `mlv pull`: git, DVC data and registry tags shared in one step."""
