"""faktctl init: write faktory.yaml with safe defaults and generate the server password."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from faktctl import ui
from faktctl.errors import UsageError
from faktctl.fsutil import StagedWrites, all_or_nothing, file_error, gitignore_update
from faktctl.secretfiles import generate_password
from faktctl.secretvalue import as_line
from faktctl.spec.load import SPEC_FILENAME, parse_spec
from faktctl.spec.model import (
    DEFAULT_IMAGE,
    DEFAULT_PASSWORD_FILE,
    NAME_MAX_LENGTH,
    NAME_PATTERN,
    spec_json_schema_text,
)

SCHEMA_FILENAME = "faktory.schema.json"
GITIGNORE_ENTRIES = ("secrets/", ".env", "backups/")


@dataclass(frozen=True)
class WorkerAnswer:
    name: str
    image: str


def default_project_name(folder: Path) -> str:
    """The folder's name as a project name; UsageError when that would drop letters or
    digits (`Ünïcödé 店` must not quietly become `n-c-d`) or be too long."""
    given = folder.resolve().name
    lost = "".join(ch for ch in given if ch.isalnum() and not ch.isascii())
    if lost:
        raise UsageError(
            f"the folder name `{given}` has characters a project name cannot hold ({lost})",
            "pass --project NAME (lowercase letters, digits, - and _)",
        )
    name = re.sub(r"[^a-z0-9_-]+", "-", given.lower()).strip("-_") or "faktory"
    if len(name) > NAME_MAX_LENGTH:
        raise UsageError(
            f"the folder name `{given}` is longer than a project name may be "
            f"({NAME_MAX_LENGTH} characters)",
            "pass --project NAME",
        )
    return name


def check_project_name(name: str) -> None:
    """The spec's rules for `project:`, said about the name given, before any file exists."""
    if len(name) > NAME_MAX_LENGTH:
        raise UsageError(
            f"the project name is {len(name)} characters long; at most {NAME_MAX_LENGTH}",
            "engine object names are made from it",
        )
    if not re.fullmatch(NAME_PATTERN, name):
        raise UsageError(
            f"`{name}` is not a valid project name", "use lowercase letters, digits, - and _"
        )


def run(file: Path | None, *, project: str | None, assume_yes: bool, force: bool) -> None:
    spec_path = (file if file is not None else Path.cwd() / SPEC_FILENAME).absolute()
    folder = spec_path.parent
    secret_path = folder / DEFAULT_PASSWORD_FILE
    _refuse_overwrite(spec_path, secret_path, force)

    interactive = not assume_yes and sys.stdin.isatty()
    name = project if project is not None else default_project_name(folder)
    check_project_name(name)
    workers: list[WorkerAnswer] = []
    if interactive:
        name, workers = _ask(name)
        check_project_name(name)

    text = _spec_text(name, workers)
    parse_spec(text, spec_path)  # never write a spec faktctl itself would reject

    # all or nothing: the password never lands without the .gitignore entry that hides it
    with all_or_nothing() as staged:
        added = _ignore_in_git(folder / ".gitignore", staged)
        schema = spec_json_schema_text()
        if _current(folder / SCHEMA_FILENAME) != schema:
            staged.add(folder / SCHEMA_FILENAME, schema)
        staged.add(spec_path, text)
        staged.add_private(secret_path, as_line(generate_password()))
    ui.info(f"wrote {spec_path.name} (project `{name}`) and {SCHEMA_FILENAME}")
    ui.info(f"generated the server password in {DEFAULT_PASSWORD_FILE} (0600; not shown)")
    if added:
        ui.info(f"added {', '.join(added)} to .gitignore")
    ui.info("next: `faktctl render` (compose files)")


def _refuse_overwrite(spec_path: Path, secret_path: Path, force: bool) -> None:
    if force:
        return
    for path, what in ((spec_path, "spec"), (secret_path, "password file")):
        if path.exists():
            raise UsageError(
                f"{what} {path} already exists",
                "pass --force to replace it; that also generates a new password",
            )


def _ask(default_name: str) -> tuple[str, list[WorkerAnswer]]:
    from rich.prompt import Prompt

    name = Prompt.ask("Project name", default=default_name, console=ui.stderr())
    worker = Prompt.ask(
        "First worker name (empty for none)", default="", console=ui.stderr(), show_default=False
    ).strip()
    if not worker:
        return name.strip(), []
    image = Prompt.ask(f"Image for worker `{worker}` (name:tag)", console=ui.stderr()).strip()
    return name.strip(), [WorkerAnswer(worker, image)]


def _spec_text(name: str, workers: list[WorkerAnswer]) -> str:
    import json

    import jinja2

    from faktctl.platforms.compose import templates_dir

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["q"] = lambda value: json.dumps(str(value))
    return env.get_template("faktory.yaml.j2").render(
        project=name,
        image=DEFAULT_IMAGE,
        password_file=DEFAULT_PASSWORD_FILE,
        workers=workers,
    )


def _current(path: Path) -> str | None:
    """The text of a file faktctl is about to replace; None when there is none yet."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise UsageError(
            f"{path} is not UTF-8 text", "faktctl would not know how to extend it"
        ) from None
    except OSError as err:
        raise file_error("read", path, err) from None


def _ignore_in_git(gitignore: Path, staged: StagedWrites) -> list[str]:
    text, missing = gitignore_update(_current(gitignore), GITIGNORE_ENTRIES)
    if missing:
        staged.add(gitignore, text)
    return missing
