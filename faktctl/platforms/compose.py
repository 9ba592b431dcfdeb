"""Desired state -> compose.yaml and .env text, from the Jinja2 templates in templates/.

Pure apart from reading the templates. Secrets reach only the .env text, never compose.yaml.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faktctl import __version__
from faktctl.desired import Desired, Mount, SecretEnv, ServiceRequest
from faktctl.secretvalue import SecretStr
from faktctl.spec.types import format_size

if TYPE_CHECKING:
    from faktctl.platforms.protocol import Targets

COMPOSE_FILENAME = "compose.yaml"
ENV_FILENAME = ".env"


@dataclass(frozen=True)
class RenderedFiles:
    compose: str
    env: SecretStr  # holds the password


def rendered_files(desired: Desired, out_dir: Path, spec_name: str) -> Targets:
    """compose.yaml and .env in `out_dir`, each with the content it should have and its mode."""
    files = render(desired, out_dir, spec_name)
    return {
        out_dir / COMPOSE_FILENAME: (files.compose, 0o644),
        out_dir / ENV_FILENAME: (files.env, 0o600),
    }


def templates_dir() -> Path:
    """Installed wheels carry the templates inside the package; a source checkout has them at
    the top level."""
    package = Path(__file__).resolve().parents[1]  # faktctl/
    for candidate in (package / "templates", package.parent / "templates"):
        if (candidate / "compose.yaml.j2").is_file():
            return candidate
    raise FileNotFoundError("faktctl templates are missing from this installation")


def render(desired: Desired, out_dir: Path, spec_name: str) -> RenderedFiles:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # YAML, not HTML; values are quoted by the `q` filter
    )
    env.filters["q"] = _quote
    env.filters["flow"] = _flow
    common = {"version": __version__, "spec_name": spec_name}
    compose = env.get_template("compose.yaml.j2").render(
        **common,
        secret_dirs=", ".join(
            sorted({_rel(Path(s.host_path).parent, out_dir) for s in desired.secrets})
        ),
        services=[_service_view(s, out_dir, desired) for s in desired.services],
        volumes=[{"key": v.key, "name": v.name} for v in desired.volumes],
        secrets=[
            {"name": s.name, "file": _rel(Path(s.host_path), out_dir)} for s in desired.secrets
        ],
        network=desired.network,
    )
    env_text = env.get_template("env.j2").render(
        **common,
        variables=[(name, value.get_secret_value()) for name, value in desired.env_file],
    )
    return RenderedFiles(compose=compose, env=SecretStr(env_text))


def _service_view(svc: ServiceRequest, out_dir: Path, desired: Desired) -> dict[str, Any]:
    return {
        "name": svc.name,
        "image": svc.image,
        "build": (
            {"context": _rel(Path(svc.build.context), out_dir), "dockerfile": svc.build.dockerfile}
            if svc.build
            else None
        ),
        "command": list(svc.command) if svc.command is not None else None,
        "env": [(name, _env_value(value)) for name, value in svc.env],
        "secrets": desired.secrets if svc.role == "server" else (),
        "mounts": [_mount_view(m, out_dir, desired) for m in svc.mounts],
        "ports": [f"{_ip(p.host_ip)}:{p.host_port}:{p.container_port}" for p in svc.ports],
        "healthcheck": svc.healthcheck,
        "depends_on_healthy": svc.depends_on_healthy,
        "restart": svc.restart,
        "stop_grace_period": f"{svc.stop_grace_s}s" if svc.stop_grace_s else None,
        "stop_signal": svc.stop_signal,
        "mem_limit": format_size(svc.memory_bytes) if svc.memory_bytes else None,
        "cpus": svc.cpus,
        "scale": svc.replicas,
    }


def _mount_view(mount: Mount, out_dir: Path, desired: Desired) -> dict[str, Any]:
    if mount.kind == "volume":
        source = next(v.key for v in desired.volumes if v.name == mount.source)
    else:
        source = _rel(Path(mount.source), out_dir)
    return {
        "kind": mount.kind,
        "source": source,
        "target": mount.target,
        "read_only": mount.read_only,
    }


def _env_value(value: str | SecretEnv) -> str:
    if isinstance(value, SecretEnv):
        return f"${{{value.variable}:?run faktctl render to write .env}}"
    return value.replace("$", "$$")  # a literal value must not be interpolated by compose


def _ip(host_ip: str) -> str:
    return f"[{host_ip}]" if ":" in host_ip else host_ip


def _rel(path: Path, out_dir: Path) -> str:
    """Relative paths keep the project folder movable; compose resolves them from its own dir."""
    try:
        relative = os.path.relpath(path, out_dir)
    except ValueError:
        return str(path)
    if relative.startswith(".."):
        return relative if not Path(relative).is_absolute() else str(path)
    return "./" + relative if relative != "." else "."


def _quote(value: object) -> str:
    return json.dumps(str(value))


def _flow(values: list[str] | tuple[str, ...]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"
