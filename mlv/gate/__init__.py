"""`mlv gate`: an experiment checked in CI against the `gate:` rules and a base, with the engine of
`mlv.gates` that the registry's promotion gates use too."""
