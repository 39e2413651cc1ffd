"""Entry point of the `segsync` console script: builds the typer app from each area's commands."""
from __future__ import annotations

import typer

from segsync.envfile import load_sandbox_env

from segsync.cli import run_cmd, sandbox_cmd, segments_cmd, sources_cmd, sync_cmd

app = typer.Typer(help="segsync: unify account data, evaluate YAML segments, sync them to your tools.",
                  no_args_is_help=True, pretty_exceptions_show_locals=False)


@app.callback()
def _load_environment() -> None:
    """Read .segsync/sandbox.env (written by `segsync sandbox up`) for variables not already set."""
    load_sandbox_env()



@app.command()
def version() -> None:
    """Print the segsync version."""
    from segsync import __version__

    typer.echo(__version__)


for module in (run_cmd, sandbox_cmd, segments_cmd, sources_cmd, sync_cmd):
    module.register(app)

if __name__ == "__main__":
    app()
