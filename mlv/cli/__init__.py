"""The command line: typer parses, the core is called, output is rendered. Nothing else."""
