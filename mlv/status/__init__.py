"""`mlv status`."""
