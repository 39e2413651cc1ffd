"""The `segsync` command line: one typer app; each area registers its commands from its own module."""
