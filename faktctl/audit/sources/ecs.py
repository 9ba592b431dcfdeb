"""faktctl audit on Amazon ECS task definitions: the JSON ECS takes (`aws ecs
register-task-definition --cli-input-json`, or a bare list of container definitions), the same
inside a CloudFormation template (`AWS::ECS::TaskDefinition`, JSON or YAML with its `!Ref`
short forms), and Terraform's `aws_ecs_task_definition` (`container_definitions` as
`jsonencode(...)`, a heredoc, `file()` or `templatefile()`).

What ECS does that the facts must say:
- the image's ENTRYPOINT stays unless `entryPoint` is given; `command` replaces its CMD (the
  official Faktory image has no ENTRYPOINT, so `command` is its whole command line);
- `stopTimeout` defaults to 30 s (the agent's default) before SIGKILL;
- a task volume with no host path, EFS or Docker volume configuration is the task's own
  storage: it goes away with the task;
- with `awsvpc` (Fargate's only mode) a port mapping opens the port on the task's own network
  interface: who reaches it is decided by security groups and load balancers, not this file;
- `secrets` come from Secrets Manager or SSM Parameter Store: the value is not in the file.
"""

from __future__ import annotations

import posixpath
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from faktctl import safeyaml
from faktctl.audit.model import (
    AuditFacts,
    EnvVar,
    HealthcheckFact,
    Location,
    MountFact,
    MountKind,
    PortFact,
)
from faktctl.audit.sources import hcljson, yamlsrc
from faktctl.audit.sources.containers import Container, audit_facts, memory_size
from faktctl.audit.sources.secretfacts import display
from faktctl.audit.sources.yamlsrc import LineDict, LineList, Tagged
from faktctl.errors import UsageError

ECS_STOP_TIMEOUT_S = 30.0
_TF_RESOURCE = re.compile(r'resource\s+"aws_ecs_task_definition"\s+"([^"]+)"\s*\{')
_TF_DEFS = re.compile(r"\bcontainer_definitions\s*=\s*")
_TF_ATTR = re.compile(r'^\s*(network_mode|memory|family)\s*=\s*"?([^"\n]*)"?', re.MULTILINE)
_TF_FILE = re.compile(r'(?:file|templatefile)\(\s*"(?:\$\{path\.module\}/)?([^"$]+)"')
_HEREDOC = re.compile(r"<<-?([A-Za-z_]+)\n")


def looks_like_ecs(text: str, doc: Any = None) -> bool:
    if isinstance(doc, dict) and "containerDefinitions" in doc:
        return True
    return bool(
        re.search(r"[\"']?containerDefinitions[\"']?\s*:", text)
        or "AWS::ECS::TaskDefinition" in text
        or _TF_RESOURCE.search(text)
    )


def gather_ecs(path: Path, now: datetime) -> AuditFacts:
    shown = display(path)
    text = safeyaml.read_text(path, shown, what="task definition")
    notes: list[str] = []
    boxes: list[Container] = []
    if _TF_RESOURCE.search(text):
        for task, body_start, body in _terraform_tasks(text):
            defs, attrs = _terraform_definitions(path, shown, text, body_start, body, notes)
            boxes += _task(task, defs, attrs, shown, notes)
        what = "Terraform file"
    else:
        doc = yamlsrc.load_tagged(text, shown)
        tasks = _cloudformation_tasks(doc) if _is_cloudformation(doc) else [("", doc)]
        what = "CloudFormation template" if _is_cloudformation(doc) else "task definition"
        for name, task in tasks:
            if isinstance(task, LineList):
                boxes += _task(name, task, LineDict(), shown, notes)
            elif isinstance(task, LineDict):
                listed = task.get("containerDefinitions")
                if not isinstance(listed, LineList):
                    raise UsageError(
                        f"{shown}: {name or 'the task'} has no containerDefinitions list"
                    )
                family = task.get("family")
                label = str(family) if family and not isinstance(family, Tagged) else name
                boxes += _task(label, listed, task, shown, notes)
            else:
                raise UsageError(f"{shown}: not an ECS task definition (expected an object)")
    return audit_facts("ecs", shown, what, boxes, now, notes)


# --- CloudFormation ---------------------------------------------------------------------------


def _is_cloudformation(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("Resources"), dict)


def _camel(value: Any) -> Any:
    """CloudFormation's PascalCase properties as the task definition JSON's camelCase."""
    if isinstance(value, LineDict):
        out = LineDict()
        out.line, out.col = value.line, value.col
        out.key_lines, out.key_cols = {}, {}
        for key, item in value.items():
            name = _camel_key(str(key))
            out[name] = _camel(item)
            out.key_lines[name] = value.line_of(key)
            out.key_cols[name] = value.col_of(key)
        return out
    if isinstance(value, LineList):
        items = LineList(_camel(v) for v in value)
        items.line, items.col = value.line, value.col
        items.item_lines = [value.line_of(i) for i in range(len(value))]
        items.item_cols = [value.col_of(i) for i in range(len(value))]
        return items
    return value


def _camel_key(key: str) -> str:
    if key.startswith("EFS"):
        return "efs" + key[3:]
    return key[:1].lower() + key[1:]


def _cloudformation_tasks(doc: LineDict) -> list[tuple[str, Any]]:
    tasks = []
    for name, resource in doc["Resources"].items():
        if isinstance(resource, dict) and resource.get("Type") == "AWS::ECS::TaskDefinition":
            props = resource.get("Properties")
            if isinstance(props, LineDict):
                tasks.append((str(name), _camel(props)))
    if not tasks:
        raise UsageError("the CloudFormation template defines no AWS::ECS::TaskDefinition")
    return tasks


# --- Terraform --------------------------------------------------------------------------------


def _block_end(text: str, start: int) -> int:
    """The index just past the `}` closing the block whose body starts at `start`."""
    depth = 1
    index = start
    while index < len(text) and depth:
        char = text[index]
        if char == '"':
            match = re.compile(r'"(?:[^"\\]|\\.)*"').match(text, index)
            index = match.end() if match else index + 1
            continue
        if text.startswith("<<", index):
            heredoc = _HEREDOC.match(text, index)
            if heredoc:
                end = re.compile(rf"^\s*{heredoc.group(1)}\s*$", re.MULTILINE).search(
                    text, heredoc.end()
                )
                index = end.end() if end else len(text)
                continue
        depth += {"{": 1, "}": -1}.get(char, 0)
        index += 1
    return index


def _terraform_tasks(text: str) -> list[tuple[str, int, str]]:
    found = []
    for match in _TF_RESOURCE.finditer(text):
        end = _block_end(text, match.end())
        found.append((match.group(1), match.end(), text[match.end() : end - 1]))
    return found


def _padded(text: str, offset: int, body: str) -> str:
    """`body` (found at `offset` of `text`) preceded by the line breaks before it, so its
    parse reports the .tf file's own line numbers."""
    return "\n" * text.count("\n", 0, offset) + body


def _terraform_definitions(
    path: Path, shown: str, text: str, body_start: int, body: str, notes: list[str]
) -> tuple[LineList, LineDict]:
    attrs = LineDict()
    attrs.key_lines, attrs.key_cols = {}, {}
    names = {"network_mode": "networkMode", "memory": "memory", "family": "family"}
    for match in _TF_ATTR.finditer(_without_blocks(body)):
        attrs[names[match.group(1)]] = match.group(2).strip()
    attrs["volumes"] = _terraform_volumes(body)
    found = _TF_DEFS.search(body)
    if found is None:
        raise UsageError(f"{shown}: aws_ecs_task_definition has no container_definitions")
    start = body_start + found.end()
    rest = text[start:]
    line = text.count("\n", 0, start) + 1
    if rest.startswith("jsonencode("):
        inner_start = start + len("jsonencode(")
        inner_end = hcljson.unmatched_close(text, inner_start)
        try:
            converted, unknown = hcljson.to_json(text[inner_start:inner_end])
        except hcljson.HclError as err:
            raise UsageError(
                f"{shown}:{line}: container_definitions uses Terraform syntax faktctl does not "
                f"read ({err}): audit the registered task definition instead "
                "(`aws ecs describe-task-definition --query taskDefinition > task.json`)"
            ) from None
        if unknown:
            notes.append(
                f"{shown}:{line}: values decided by Terraform are unknown here: "
                + ", ".join(dict.fromkeys(unknown))
            )
        doc = yamlsrc.load(_padded(text, inner_start, converted), shown)
    elif heredoc := _HEREDOC.match(rest):
        close = re.compile(rf"^\s*{heredoc.group(1)}\s*$", re.MULTILINE).search(
            text, start + heredoc.end()
        )
        stop = close.start() if close else len(text)
        json_text = hcljson.json_with_interpolations(text[start + heredoc.end() : stop])
        doc = yamlsrc.load(_padded(text, start + heredoc.end(), json_text), shown)
    elif file_ref := _TF_FILE.match(rest):
        target = path.parent / file_ref.group(1)
        target_shown = display(target)
        json_text = hcljson.json_with_interpolations(
            safeyaml.read_text(target, target_shown, what="container definitions")
        )
        doc = yamlsrc.load(json_text, target_shown)
    else:
        expression = rest.split("\n", 1)[0].strip()
        raise UsageError(
            f"{shown}:{line}: container_definitions is `{expression}`, decided by Terraform: "
            "audit the registered task definition instead "
            "(`aws ecs describe-task-definition --query taskDefinition > task.json`)"
        )
    if isinstance(doc, LineDict) and isinstance(doc.get("containerDefinitions"), LineList):
        doc = doc["containerDefinitions"]
    if not isinstance(doc, LineList):
        raise UsageError(f"{shown}:{line}: container_definitions is not a list")
    return doc, attrs


def _without_blocks(body: str) -> str:
    """The resource's own attributes: nested blocks and the definitions cut out."""
    out, depth = [], 0
    for line in body.splitlines():
        if depth == 0 and not _TF_DEFS.search(line):
            out.append(line)
        depth += line.count("{") + line.count("[") + line.count("(")
        depth -= line.count("}") + line.count("]") + line.count(")")
        depth = max(depth, 0)
    return "\n".join(out)


_TF_VOLUME = re.compile(r"^\s*volume\s*\{", re.MULTILINE)


def _terraform_volumes(body: str) -> LineList:
    volumes = LineList()
    for match in _TF_VOLUME.finditer(body):
        block = body[match.end() : _block_end(body, match.end())]
        volume = LineDict()
        name = re.search(r'^\s*name\s*=\s*"([^"]+)"', block, re.MULTILINE)
        host = re.search(r'^\s*host_path\s*=\s*"([^"]+)"', block, re.MULTILINE)
        volume["name"] = name.group(1) if name else ""
        if host:
            volume["host"] = {"sourcePath": host.group(1)}
        if "efs_volume_configuration" in block:
            volume["efsVolumeConfiguration"] = {}
        if "docker_volume_configuration" in block:
            volume["dockerVolumeConfiguration"] = {}
        volumes.append(volume)
    return volumes


# --- one task ---------------------------------------------------------------------------------


def _loc(shown: str, node: Any, key: Any = None) -> Location | None:
    if isinstance(node, LineDict):
        return Location(shown, node.line_of(key) if key is not None else node.line)
    if isinstance(node, LineList):
        return Location(shown, node.line_of(key) if isinstance(key, int) else node.line)
    return None


def _words(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, list) and value:
        return tuple("" if v is None else str(v) for v in value)
    return None


def _task(
    task_name: str, defs: LineList, task: LineDict, shown: str, notes: list[str]
) -> list[Container]:
    volumes = {str(v.get("name")): v for v in task.get("volumes") or [] if isinstance(v, dict)}
    network = str(task.get("networkMode") or "")
    task_memory = memory_size(task.get("memory")) if task.get("memory") else None
    boxes = []
    many = len([d for d in defs if isinstance(d, LineDict)]) > 1
    for position, item in enumerate(defs):
        if not isinstance(item, LineDict):
            continue
        name = str(item.get("name") or f"container {position + 1}")
        shown_name = f"{task_name}/{name}" if task_name and many else (name or task_name)
        image = item.get("image")
        box = Container(
            shown_name,
            None if image is None or isinstance(image, Tagged) else str(image),
            entrypoint=_words(item.get("entryPoint")),
            command=_words(item.get("command")),
            env=_environment(item, shown),
            mounts=_mounts(item, volumes, shown, notes, shown_name),
            ports=_ports(item, network, shown, notes, shown_name),
            healthcheck=_healthcheck(item),
            memory_bytes=memory_size(item["memory"]) if item.get("memory") else task_memory,
            stop_grace_s=float(item["stopTimeout"])
            if isinstance(item.get("stopTimeout"), int)
            else ECS_STOP_TIMEOUT_S,
            user=str(item["user"]) if item.get("user") else None,
            restart="always",
            restart_text="an ECS service replaces a stopped task",
            location=_loc(shown, defs, position),
            entrypoint_unknown=True,
        )
        keys = {
            "command": ("command", "entryPoint"),
            "environment": ("environment", "secrets"),
            "volumes": ("mountPoints",),
            "ports": ("portMappings",),
            "image": ("image",),
            "memory": ("memory",),
            "healthcheck": ("healthCheck",),
            "stop_grace_period": ("stopTimeout",),
        }
        for field, names in keys.items():
            for key in names:
                if key in item:
                    box.locations[field] = Location(shown, item.line_of(key))
                    break
        boxes.append(box)
    return boxes


def _environment(item: LineDict, shown: str) -> dict[str, EnvVar]:
    env: dict[str, EnvVar] = {}
    entries = item.get("environment")
    for position, entry in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(entry, dict) or entry.get("name") is None:
            continue
        name = str(entry["name"])
        where = _loc(shown, entries, position)
        value = entry.get("value")
        if value is None or isinstance(value, Tagged):
            detail = str(value) if isinstance(value, Tagged) else "a Terraform expression"
            env[name] = EnvVar(name, None, "reference", detail, where)
        else:
            env[name] = EnvVar(name, str(value), "literal", "environment", where)
    secrets = item.get("secrets")
    for position, entry in enumerate(secrets if isinstance(secrets, list) else []):
        if not isinstance(entry, dict) or entry.get("name") is None:
            continue
        name = str(entry["name"])
        source = entry.get("valueFrom")
        detail = f"secrets valueFrom {source}" if source else "secrets"
        env[name] = EnvVar(name, None, "reference", detail, _loc(shown, secrets, position))
    return env


def _mounts(
    item: LineDict, volumes: dict[str, Any], shown: str, notes: list[str], name: str
) -> list[MountFact]:
    mounts = []
    points = item.get("mountPoints")
    for position, point in enumerate(points if isinstance(points, list) else []):
        if not isinstance(point, dict) or not point.get("containerPath"):
            continue
        source = str(point.get("sourceVolume", ""))
        volume = volumes.get(source)
        kind: MountKind
        host: str | None = None
        if volume is None:
            kind, text = "anonymous", f"task volume {source} (not defined in this input)"
            notes.append(f"{name}: volume `{source}` is not among the task's volumes here")
        elif isinstance(volume.get("host"), dict) and volume["host"].get("sourcePath"):
            host = str(volume["host"]["sourcePath"])
            kind, text = "bind", host
        elif "efsVolumeConfiguration" in volume:
            kind, text = "volume", f"EFS volume {source}"
        elif "dockerVolumeConfiguration" in volume:
            config = volume.get("dockerVolumeConfiguration") or {}
            shared = isinstance(config, dict) and config.get("scope") == "shared"
            kind = "volume" if shared else "anonymous"
            text = f"Docker volume {source} ({'shared' if shared else 'task'} scope)"
        else:
            kind, text = "anonymous", f"task storage {source} (removed with the task)"
        mounts.append(
            MountFact(
                kind,
                posixpath.normpath(str(point["containerPath"])),
                text,
                bool(point.get("readOnly")),
                location=_loc(shown, points, position),
            )
        )
    return mounts


def _ports(item: LineDict, network: str, shown: str, notes: list[str], name: str) -> list[PortFact]:
    ports = []
    mappings = item.get("portMappings")
    for position, mapping in enumerate(mappings if isinstance(mappings, list) else []):
        if not isinstance(mapping, dict) or not isinstance(mapping.get("containerPort"), int):
            continue
        inside = int(mapping["containerPort"])
        protocol = str(mapping.get("protocol") or "tcp").lower()
        where = _loc(shown, mappings, position)
        if network in {"awsvpc", ""}:
            mode = network or "awsvpc (Fargate) or bridge"
            notes.append(
                f"{name}: port {inside} opens on the task's network interface "
                f"(networkMode {mode}): who reaches it is decided by security groups and load "
                "balancers, which this file does not show"
            )
            continue
        host = mapping.get("hostPort")
        ports.append(
            PortFact(
                inside,
                "",
                "" if host in (None, 0) else str(host),
                protocol,
                f"portMappings containerPort {inside} hostPort {host if host else 'dynamic'} "
                f"(networkMode {network}: every interface of the instance)",
                where,
            )
        )
    return ports


def _healthcheck(item: LineDict) -> HealthcheckFact | None:
    check = item.get("healthCheck")
    command = check.get("command") if isinstance(check, dict) else None
    if isinstance(command, list) and command:
        words = tuple(str(w) for w in command)
        if words[0] == "CMD-SHELL":
            words = ("CMD-SHELL", *words[1:])
        return HealthcheckFact(words)
    return None
