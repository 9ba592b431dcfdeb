"""faktctl render: write compose.yaml and .env from the spec, or check them for drift."""

from __future__ import annotations

import difflib
from pathlib import Path

from faktctl import ui
from faktctl.desired import web_conf_path
from faktctl.errors import ExitCode
from faktctl.fsutil import write_if_changed
from faktctl.platforms.compose import COMPOSE_FILENAME, ENV_FILENAME, render
from faktctl.project import Project, open_project
from faktctl.secretfiles import write_web_conf
from faktctl.secretvalue import REDACTED, SecretStr, matches
from faktctl.secretvalue import shown as redacted

# each file faktctl renders: the content it should have (secret for .env and secret files)
# and its mode
Targets = dict[Path, tuple[str | SecretStr, int]]


def rendered_files(project: Project) -> Targets:
    """Each target file with the content it should have and its mode."""
    out_dir = project.dir
    files = render(project.desired, out_dir, project.loaded.path.name)
    return {
        out_dir / COMPOSE_FILENAME: (files.compose, 0o644),
        out_dir / ENV_FILENAME: (files.env, 0o600),
    }


def run(file: Path | None, *, check: bool) -> int:
    project = open_project(file)
    targets = rendered_files(project)
    if check:
        return check_files(project, targets, "compose.yaml and .env match the spec")
    write_web_conf(project.loaded, web_conf_path(project.loaded))
    for path, (content, mode) in targets.items():
        changed = write_if_changed(path, content, mode)
        ui.info(f"{shown(path, project)}: {'written' if changed else 'unchanged'}")
    return ExitCode.OK


def check_files(
    project: Project,
    targets: Targets,
    ok: str,
    fix: str = "faktctl render",
) -> int:
    drift = False
    for path, (wanted, _) in targets.items():
        try:
            current = path.read_text()
        except FileNotFoundError:
            current = None
        if matches(current, wanted):
            continue
        drift = True
        name = shown(path, project)
        if current is None:
            ui.info(f"{name}: missing (run `{fix}`)")
            continue
        diff = "".join(
            difflib.unified_diff(
                redacted(current, project.secrets).splitlines(keepends=True),
                redacted(wanted, project.secrets).splitlines(keepends=True),
                fromfile=f"{name} (on disk)",
                tofile=f"{name} (rendered)",
            )
        )
        if diff:
            ui.data(diff)
        else:
            ui.info(f"{name}: differs only in secret values (shown as {REDACTED})")
    if drift:
        ui.info(f"rendered files differ from the spec: run `{fix}`")
        return ExitCode.FINDINGS
    ui.info(ok)
    return ExitCode.OK


def shown(path: Path, project: Project | None = None) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
