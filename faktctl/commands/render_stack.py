"""faktctl render --target stack: stack.yaml for `docker stack deploy`, same objects as `up`.

Reads the images on the engine (their ids, and the entrypoint and command a `shell`-delivery
worker wraps), like `up` does, so the stack file and `up` produce identical services. Writes
the workers' FAKTORY_URL secret file (0600) beside the password file and prints the
`docker secret create` commands for the external secrets (never their values).
"""

from __future__ import annotations

import difflib
from pathlib import Path

from faktctl import ui
from faktctl.errors import ExitCode, UsageError
from faktctl.fsutil import write_if_changed
from faktctl.project import Project, open_project

URL_FILENAME = "faktory_url"


def run(file: Path | None, *, check: bool) -> int:
    from faktctl.adapters.docker.connect import connect
    from faktctl.commands.up import build_digests
    from faktctl.platforms.engine.plan import with_build_tags
    from faktctl.platforms.swarm.apply import swarm_desired
    from faktctl.platforms.swarm.lifecycle import web_conf
    from faktctl.platforms.swarm.stack import STACK_FILENAME, render_stack

    project = open_project(file)
    if project.loaded.spec.platform != "swarm":
        raise UsageError(
            "`render --target stack` needs `platform: swarm` in the spec",
            "add `platform: swarm` and a swarm section with server_node",
        )
    resolved = with_build_tags(project.desired, build_digests(project.desired))
    engine = connect()
    try:
        desired = swarm_desired(
            engine, resolved, project.loaded.spec, project.password, web_conf(project)
        )
    finally:
        engine.close()
    text = render_stack(desired, project.loaded.path.name)
    path = project.dir / STACK_FILENAME
    if check:
        return _check(path, text)
    changed = write_if_changed(path, text, 0o644)
    ui.info(f"{STACK_FILENAME}: {'written' if changed else 'unchanged'}")
    _secret_commands(project, {s.key: s for s in desired.secrets})
    return ExitCode.OK


def _check(path: Path, wanted: str) -> int:
    try:
        current = path.read_text()
    except FileNotFoundError:
        ui.info(f"{path.name}: missing (run `faktctl render --target stack`)")
        return ExitCode.FINDINGS
    if current == wanted:
        ui.info(f"{path.name} matches the spec")
        return ExitCode.OK
    ui.data(
        "".join(
            difflib.unified_diff(
                current.splitlines(keepends=True),
                wanted.splitlines(keepends=True),
                fromfile=f"{path.name} (on disk)",
                tofile=f"{path.name} (rendered)",
            )
        )
    )
    ui.info(f"{path.name} differs from the spec: run `faktctl render --target stack`")
    return ExitCode.FINDINGS


def _secret_commands(project: Project, secrets: dict[str, object]) -> None:
    """The files holding each external secret's exact content, and how to create them."""
    from faktctl.desired import web_conf_path
    from faktctl.platforms.swarm.plan import SecretObject
    from faktctl.secretfiles import write_secret, write_web_conf
    from faktctl.secretvalue import derived

    loaded = project.loaded
    password_path = loaded.resolve(loaded.spec.server.password_file).absolute()
    files: dict[str, Path] = {"password": password_path}
    url = secrets.get("url")
    if isinstance(url, SecretObject):
        url_path = password_path.parent / URL_FILENAME
        write_secret(url_path, derived(url.data, lambda value: value.rstrip("\n")))
        files["url"] = url_path
    if "web" in secrets:
        write_web_conf(loaded, web_conf_path(loaded))
        files["web"] = web_conf_path(loaded)
    ui.info("create the external secrets first (once per content; `faktctl up` does it too):")
    for key, secret in secrets.items():
        assert isinstance(secret, SecretObject)
        ui.info(f"  docker secret create {secret.name} {_shown(files[key])}")


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
