"""faktctl render --target kubernetes: write the kustomize directory, or check it for drift."""

from __future__ import annotations

from pathlib import Path

from faktctl import ui
from faktctl.commands.render import Targets, check_files, shown
from faktctl.errors import ExitCode
from faktctl.fsutil import ensure_private_dir, write_if_changed
from faktctl.platforms.kubernetes import SECRETS_DIR, render_kubernetes
from faktctl.project import Project, open_project

DEFAULT_DIR = "k8s"


def kube_targets(project: Project, out_dir: Path) -> Targets:
    """Each file of the kustomize directory with its content and mode (secrets 0600)."""
    files = render_kubernetes(
        project.desired,
        project.loaded.spec.kubernetes,
        project.password,
        project.loaded.path.name,
        project.loaded.spec.audit.ignore,
    )
    targets: Targets = {out_dir / name: (text, 0o644) for name, text in files.manifests.items()}
    for name, secret in files.secrets.items():
        targets[out_dir / name] = (secret, 0o600)
    return targets


def out_dir_of(project: Project, out: Path | None) -> Path:
    return out if out is not None else project.dir / DEFAULT_DIR


def run(file: Path | None, *, out: Path | None, check: bool) -> int:
    project = open_project(file)
    directory = out_dir_of(project, out)
    targets = kube_targets(project, directory)
    if check:
        return check_files(
            project,
            targets,
            f"{shown(directory)}/ matches the spec",
            "faktctl render --target kubernetes",
        )
    ensure_private_dir(directory / SECRETS_DIR)
    for path, (content, mode) in targets.items():
        changed = write_if_changed(path, content, mode)
        ui.info(f"{shown(path)}: {'written' if changed else 'unchanged'}")
    ui.info(f"apply with: kubectl apply -k {shown(directory)}")
    return ExitCode.OK
