"""faktctl render: write the files another tool deploys from the spec, or check them for drift.

- `--target compose` (default): compose.yaml and .env beside the spec (faktctl.platforms.compose);
- `--target kubernetes`: a kustomize directory (faktctl.platforms.kubernetes); with server.tls
  the certificate, key and CA are copied into its secrets/ folder for the secretGenerator;
- `--target stack`: stack.yaml for `docker stack deploy`, the same objects as `up` on a swarm
  (faktctl.platforms.swarm.stack). It reads the images on the engine (their ids, and the
  entrypoint and command a `shell`-delivery worker wraps), writes the workers' FAKTORY_URL
  secret file (0600) beside the password file and prints the `docker secret create` commands
  for the external secrets (never their values), the TLS certificate, key and CA included;
- `--target prometheus`: prometheus/faktory-rules.yaml, the alert rules of
  faktctl.monitoring.rules with the thresholds of the spec's `monitoring:` section.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import TYPE_CHECKING

from faktctl import ui
from faktctl.desired import web_conf_path
from faktctl.errors import ExitCode
from faktctl.fsutil import write_if_changed
from faktctl.project import Project, open_project
from faktctl.secretfiles import write_web_conf
from faktctl.secretvalue import REDACTED, SecretStr, matches, secret_file_pair
from faktctl.secretvalue import shown as redacted

if TYPE_CHECKING:
    from faktctl.platforms.protocol import Targets
    from faktctl.platforms.swarm.plan import SecretKey, SecretObject


def run(file: Path | None, *, check: bool) -> int:
    from faktctl.platforms.compose import rendered_files

    if check:
        from faktctl.platforms.compose import ENV_FILENAME
        from faktctl.project import open_project_here

        here, has_password = open_project_here(file)
        targets = rendered_files(here.desired, here.dir, here.loaded.path.name)
        if has_password:
            return check_files(here, targets, "compose.yaml and .env match the spec")
        ui.info(
            f"{ENV_FILENAME} not checked: it holds the password, whose file is not on this host "
            "(check it on the deploy host)"
        )
        targets = {p: t for p, t in targets.items() if p.name != ENV_FILENAME}
        return check_files(here, targets, "compose.yaml matches the spec")
    project = open_project(file)
    targets = rendered_files(project.desired, project.dir, project.loaded.path.name)
    write_web_conf(project.loaded, web_conf_path(project.loaded))
    _tls_files(project)
    for path, (content, mode) in targets.items():
        changed = write_if_changed(path, content, mode)
        ui.info(f"{shown(path)}: {'written' if changed else 'unchanged'}")
    return ExitCode.OK


def run_kubernetes(file: Path | None, *, out: Path | None, check: bool) -> int:
    from faktctl.fsutil import (
        add_to_gitignore,
        ensure_private_dir,
        gitignore_update,
        read_gitignore,
    )
    from faktctl.platforms.kubernetes import DEFAULT_DIR, GITIGNORED, SECRETS_DIR, render_kubernetes
    from faktctl.secretfiles import tls_file_contents

    project = open_project(file)
    if not check:
        _tls_files(project)
    directory = out if out is not None else project.dir / DEFAULT_DIR
    files = render_kubernetes(
        project.desired,
        project.password,
        project.loaded.path.name,
        tls_file_contents(project.loaded),
    )
    targets = files.targets(directory)
    if check:
        fix = "faktctl render --target kubernetes"
        _, unignored = gitignore_update(read_gitignore(directory), GITIGNORED)
        if unignored:
            ui.info(
                f"{shown(directory / '.gitignore')}: lacks {', '.join(unignored)} (run `{fix}`)"
            )
        found = check_files(project, targets, f"{shown(directory)}/ matches the spec", fix)
        return ExitCode.FINDINGS if unignored else found
    ensure_private_dir(directory / SECRETS_DIR)
    for path, (content, mode) in targets.items():
        changed = write_if_changed(path, content, mode)
        ui.info(f"{shown(path)}: {'written' if changed else 'unchanged'}")
    added = add_to_gitignore(directory, GITIGNORED)
    if added:
        ui.info(f"added {', '.join(added)} to {shown(directory / '.gitignore')}")
    ui.info(f"apply with: kubectl apply -k {shown(directory)}")
    return ExitCode.OK


def run_stack(file: Path | None, *, check: bool) -> int:
    from faktctl.platforms import swarm_of
    from faktctl.platforms.swarm.stack import STACK_FILENAME, render_stack

    project = open_project(file)
    desired = swarm_of(project).stack_desired()
    text = render_stack(desired, project.loaded.path.name)
    path = project.dir / STACK_FILENAME
    if check:
        return _check_stack(path, text)
    changed = write_if_changed(path, text, 0o644)
    ui.info(f"{STACK_FILENAME}: {'written' if changed else 'unchanged'}")
    _secret_commands(project, {s.key: s for s in desired.secrets})
    return ExitCode.OK


def run_prometheus(file: Path | None, *, check: bool) -> int:
    from faktctl.monitoring.rules import render_rules, rules_path

    project = open_project(file)
    path = rules_path(project.dir)
    targets: Targets = {path: (render_rules(project.loaded.spec, project.loaded.path.name), 0o644)}
    if check:
        return check_files(
            project,
            targets,
            f"{shown(path)} matches the spec",
            "faktctl render --target prometheus",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    changed = write_if_changed(path, targets[path][0], 0o644)
    ui.info(f"{shown(path)}: {'written' if changed else 'unchanged'}")
    ui.info("load it in Prometheus with `rule_files:` (see docs/monitoring.md)")
    return ExitCode.OK


def check_files(project: Project, targets: Targets, ok: str, fix: str = "faktctl render") -> int:
    drift = False
    for path, (wanted, _) in targets.items():
        try:
            current = path.read_text()
        except FileNotFoundError:
            current = None
        if matches(current, wanted):
            continue
        drift = True
        name = shown(path)
        if current is None:
            ui.info(f"{name}: missing (run `{fix}`)")
            continue
        if isinstance(wanted, SecretStr):  # a secret-bearing file: the one redaction for them
            old, new = secret_file_pair(current, wanted, project.secrets)
        else:
            old, new = redacted(current, project.secrets), redacted(wanted, project.secrets)
        diff = "".join(
            difflib.unified_diff(
                old.splitlines(keepends=True),
                new.splitlines(keepends=True),
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


def _check_stack(path: Path, wanted: str) -> int:
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


def _secret_commands(project: Project, secrets: dict[SecretKey, SecretObject]) -> None:
    """The files holding each external secret's exact content, and how to create them."""
    from faktctl.platforms.swarm.stack import URL_FILENAME
    from faktctl.secretfiles import write_secret
    from faktctl.secretvalue import derived

    loaded = project.loaded
    password_path = loaded.resolve(loaded.spec.server.password_file).absolute()
    files: dict[SecretKey, Path] = {"password": password_path}
    url = secrets.get("url")
    if url is not None:
        url_path = password_path.parent / URL_FILENAME
        write_secret(url_path, derived(url.data, lambda value: value.rstrip("\n")))
        files["url"] = url_path
    if "web" in secrets:
        write_web_conf(loaded, web_conf_path(loaded))
        files["web"] = web_conf_path(loaded)
    setup = project.desired.tls
    if setup is not None:  # the files themselves (never the CA key, which is no secret here)
        files["tls_cert"], files["tls_key"] = Path(setup.cert), Path(setup.key)
        if setup.ca is not None:
            files["tls_ca"] = Path(setup.ca)
    ui.info("create the external secrets first (once per content; `faktctl up` does it too):")
    for key, secret in secrets.items():
        ui.info(f"  docker secret create {secret.name} {shown(files[key])}")


def shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _tls_files(project: Project) -> None:
    """The files compose.yaml mounts for server.tls: made, renewed or checked now."""
    from faktctl.live.tls import prepare

    prepared = prepare(project.loaded)
    for line in prepared.done if prepared else ():
        ui.info(f"tls: {line}")
