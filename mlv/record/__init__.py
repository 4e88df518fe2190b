"""The experiment record: its format in a commit message, and reading it from history."""
