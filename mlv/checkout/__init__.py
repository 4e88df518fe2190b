"""`mlv checkout`."""
