"""One module per command, each with a `register(app)` function."""
