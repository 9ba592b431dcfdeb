"""faktctl init: write faktory.yaml with safe defaults and generate the server password."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from faktctl import ui
from faktctl.commands.schema import schema_text
from faktctl.errors import UsageError
from faktctl.fsutil import atomic_write, write_if_changed
from faktctl.secretfiles import generate_password, write_secret
from faktctl.spec.load import SPEC_FILENAME, parse_spec
from faktctl.spec.model import DEFAULT_IMAGE, DEFAULT_PASSWORD_FILE, NAME_PATTERN

SCHEMA_FILENAME = "faktory.schema.json"
GITIGNORE_ENTRIES = ("secrets/", ".env", "backups/")


@dataclass(frozen=True)
class WorkerAnswer:
    name: str
    image: str


def default_project_name(folder: Path) -> str:
    name = re.sub(r"[^a-z0-9_-]+", "-", folder.resolve().name.lower()).strip("-_")
    return name or "faktory"


def run(file: Path | None, *, project: str | None, assume_yes: bool, force: bool) -> None:
    spec_path = (file if file is not None else Path.cwd() / SPEC_FILENAME).absolute()
    folder = spec_path.parent
    secret_path = folder / DEFAULT_PASSWORD_FILE
    _refuse_overwrite(spec_path, secret_path, force)

    interactive = not assume_yes and sys.stdin.isatty()
    name = project or default_project_name(folder)
    workers: list[WorkerAnswer] = []
    if interactive:
        name, workers = _ask(name)
    if not re.fullmatch(NAME_PATTERN, name):
        raise UsageError(
            f"`{name}` is not a valid project name", "use lowercase letters, digits, - and _"
        )

    text = _spec_text(name, workers)
    parse_spec(text, spec_path)  # never write a spec faktctl itself would reject

    write_secret(secret_path, generate_password())
    atomic_write(spec_path, text, mode=0o644)
    write_if_changed(folder / SCHEMA_FILENAME, schema_text())
    added = _ignore_in_git(folder / ".gitignore")
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

    from faktctl.render import templates_dir

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


def _ignore_in_git(gitignore: Path) -> list[str]:
    try:
        current = gitignore.read_text()
    except FileNotFoundError:
        current = ""
    present = {line.strip() for line in current.splitlines()}
    missing = [entry for entry in GITIGNORE_ENTRIES if entry not in present]
    if missing:
        prefix = current if not current or current.endswith("\n") else current + "\n"
        atomic_write(gitignore, prefix + "".join(f"{entry}\n" for entry in missing))
    return missing
