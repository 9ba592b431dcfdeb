"""The typer app: command declarations and the error boundary.

Commands import their implementation lazily so `faktctl --help` stays fast.
"""

from __future__ import annotations

import signal
import sys
import traceback
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from faktctl import __version__
from faktctl.errors import ExitCode, FaktctlError, SpecError

app = typer.Typer(
    name="faktctl",
    help="Deploy the Faktory job server safely: write a spec, render compose files, "
    "launch through Docker, back up, and audit against the go-live checklist.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

SpecOption = Annotated[
    Path | None,
    typer.Option(
        "--file",
        "-f",
        help="Spec file to use (default: ./faktory.yaml).",
        dir_okay=False,
        show_default=False,
    ),
]


class Interrupted(FaktctlError):
    exit_code = ExitCode.INTERRUPTED


def _version(value: bool) -> None:
    if value:
        typer.echo(f"faktctl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show a traceback when a command fails.")
    ] = False,
) -> None:
    """faktctl: from "we want Faktory" to a production deployment that passes its go-live
    checklist."""


@app.command()
def init(
    file: SpecOption = None,
    project: Annotated[
        str | None, typer.Option(help="Project name (default: the folder's name).")
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Take safe defaults without asking.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing spec and password file.")
    ] = False,
) -> None:
    """Write faktory.yaml with safe production defaults and generate the server password.

    The password goes to secrets/faktory_password (0600, folder 0700) and is never printed;
    secrets/ and .env are added to .gitignore. On a terminal it asks for the project name and a
    first worker unless --yes is given.
    """
    from faktctl.commands import init as command

    command.run(file, project=project, assume_yes=yes, force=force)


@app.command()
def render(
    file: SpecOption = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Write nothing; exit 1 and show a diff (password redacted) when compose.yaml "
            "or .env differ from what the spec renders.",
        ),
    ] = False,
) -> None:
    """Render compose.yaml and .env next to the spec (only files whose content changed).

    compose.yaml never contains the password: the server reads it from a compose secret and
    workers get FAKTORY_URL from .env (written 0600).
    """
    from faktctl.commands import render as command

    raise typer.Exit(command.run(file, check=check))


@app.command()
def schema() -> None:
    """Print the JSON Schema of faktory.yaml (for editors: faktctl schema > faktory.schema.json)."""
    from faktctl.commands import schema as command

    command.run()


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted("interrupted")


def main() -> None:
    """Console-script entry point and the one error boundary."""
    debug = "--debug" in sys.argv[1:]
    signal.signal(signal.SIGINT, _raise_interrupted)
    try:
        app()
    except FaktctlError as err:
        if debug:
            traceback.print_exc()
        if isinstance(err, SpecError):
            print(err.one_line(), file=sys.stderr)
        else:
            print(f"faktctl: error: {err.one_line()}", file=sys.stderr)
        sys.exit(int(err.exit_code))
    except BrokenPipeError:
        sys.exit(int(ExitCode.OK))
