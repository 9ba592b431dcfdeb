"""Kubernetes manifests as located objects: read a file, a folder or stdin, split the
multi-document YAML (and `List` objects), and find the pods inside the workloads.

Pure apart from reading the input. Parsing goes through faktctl.audit.sources.yamlsrc, the
project's one
YAML loader, so every node remembers its line and column.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from faktctl import labels, safeyaml
from faktctl.audit.model import Location
from faktctl.audit.sources import yamlsrc
from faktctl.audit.sources.yamlsrc import LineDict, LineList
from faktctl.errors import UsageError

STDIN = "<stdin>"
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
WORKLOAD_KINDS = ("Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob")
# A Go template action: what `helm template` would have replaced.
_HELM_ACTION = re.compile(
    r"\{\{-?\s*(?:\.|\$|include\b|template\b|if\b|else\b|end\b|range\b|with\b|define\b|"
    r"toYaml\b|tpl\b|default\b|required\b|printf\b|quote\b|-)"
)
HELM_HINT = (
    "render the chart first and audit its output: helm template RELEASE CHART | faktctl "
    "audit --k8s -"
)


@dataclass(frozen=True)
class KubeObject:
    doc: LineDict
    display: str

    @property
    def kind(self) -> str:
        return str(self.doc.get("kind") or "")

    @property
    def metadata(self) -> LineDict:
        meta = self.doc.get("metadata")
        return meta if isinstance(meta, LineDict) else LineDict()

    @property
    def name(self) -> str:
        return str(self.metadata.get("name") or "")

    @property
    def namespace(self) -> str:
        """ "" when the manifest leaves it to kubectl (it then matches any namespace here)."""
        return str(self.metadata.get("namespace") or "")

    @property
    def ref(self) -> str:
        return f"{self.kind} {self.name}".strip()

    def where(self) -> Location:
        return Location(self.display, self.doc.line, self.doc.col)

    def annotation(self, key: str) -> tuple[str | None, Location]:
        notes = self.metadata.get("annotations")
        if not isinstance(notes, LineDict) or key not in notes:
            return None, self.where()
        return str(notes[key]), at(notes, key, self.display)


def at(node: Any, key: Any, display: str) -> Location:
    """The location of `key` inside `node` (a LineDict or LineList), or of the node itself."""
    if isinstance(node, LineDict | LineList):
        return Location(display, node.line_of(key), node.col_of(key))
    return Location(display)


def same_namespace(a: KubeObject, b: KubeObject) -> bool:
    return not a.namespace or not b.namespace or a.namespace == b.namespace


# --- reading the input -----------------------------------------------------------------------


def read_sources(target: str) -> list[tuple[str, str]]:
    """(display name, text) of every manifest file: one file, a folder (recursively, *.yaml,
    *.yml, *.json in name order) or `-` for standard input."""
    if target == "-":
        return [(STDIN, safeyaml.read_stdin_text(STDIN, what="manifest"))]
    path = Path(target)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in MANIFEST_SUFFIXES and p.is_file())
        if not files:
            raise UsageError(f"{target}: no *.yaml, *.yml or *.json manifests in this folder")
    elif path.exists():
        files = [path]
    else:
        raise UsageError(f"{target}: no such file or folder")
    return [(str(file), safeyaml.read_text(file, what="manifest")) for file in files]


def _helm_line(text: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("#"):
            continue
        if _HELM_ACTION.search(line):
            return number
    return None


# where a rendered manifest holds free text that may itself be Go-template text (an
# Alertmanager template in a ConfigMap, an audit-ignore reason in an annotation)
_FREE_TEXT_KEYS = frozenset({"annotations"})
_FREE_TEXT_DATA = frozenset({"data", "stringData", "binaryData"})


def _template_in_structure(node: Any, display: str, data_holder: bool = False) -> int | None:
    """The line of a Go-template action where a value of the manifest's own structure stands
    (a name, a count, a key), which `helm template` would have replaced; free text (an
    annotation's value, a ConfigMap's or Secret's data) may hold such text when rendered."""
    if isinstance(node, LineDict):
        for key, value in node.items():
            if isinstance(key, str) and _HELM_ACTION.search(key):
                return node.line_of(key)
            if key in _FREE_TEXT_KEYS or (data_holder and key in _FREE_TEXT_DATA):
                continue
            if isinstance(value, str):
                if _HELM_ACTION.search(value):
                    return node.line_of(key)
                continue
            found = _template_in_structure(value, display)
            if found is not None:
                return found
    elif isinstance(node, LineList):
        for position, item in enumerate(node):
            if isinstance(item, str) and _HELM_ACTION.search(item):
                return node.line_of(position)
            found = _template_in_structure(item, display)
            if found is not None:
                return found
    return None


def _raw_helm(display: str, line: int) -> UsageError:
    return UsageError(f"{display}:{line}: this is a raw Helm template; {HELM_HINT}")


def parse_objects(display: str, text: str) -> list[KubeObject]:
    """The objects of one manifest text. "An unrendered Helm template" is decided from the
    structure: text that is not YAML because of template actions, or a template action where
    the manifest's own values stand; never from template text inside free text."""
    try:
        docs = yamlsrc.load_all(text, display)
    except UsageError:
        helm = _helm_line(text)
        if helm is not None:
            raise _raw_helm(display, helm) from None
        raise
    objects: list[KubeObject] = []
    for index, doc in enumerate(docs, start=1):
        if doc is None:
            continue
        if not isinstance(doc, LineDict):
            where = getattr(doc, "line", 0)
            helm = _helm_line(text)
            if helm is not None:
                raise _raw_helm(display, helm)
            raise UsageError(f"{display}:{where}: document {index} is not a mapping")
        kind = doc.get("kind")
        helm = _template_in_structure(doc, display, data_holder=kind in ("ConfigMap", "Secret"))
        if helm is not None:
            raise _raw_helm(display, helm)
        objects += _flatten(doc, display)
    return objects


def _flatten(doc: LineDict, display: str) -> Iterator[KubeObject]:
    items = doc.get("items")
    if str(doc.get("kind", "")).endswith("List") and isinstance(items, LineList):
        for item in items:
            if isinstance(item, LineDict):
                yield from _flatten(item, display)
        return
    if doc.get("kind") and doc.get("apiVersion"):
        yield KubeObject(doc, display)


def load_objects(target: str) -> list[KubeObject]:
    objects: list[KubeObject] = []
    for display, text in read_sources(target):
        objects += parse_objects(display, text)
    if not objects:
        raise UsageError(f"{target}: no Kubernetes objects (apiVersion and kind) found")
    return objects


# --- pods inside workloads -------------------------------------------------------------------


@dataclass(frozen=True)
class PodTemplate:
    owner: KubeObject
    spec: LineDict
    labels: dict[str, str]


def pod_template(obj: KubeObject) -> PodTemplate | None:
    """The pod a workload runs (CronJob -> Job -> pod)."""
    if obj.kind not in WORKLOAD_KINDS:
        return None
    spec = obj.doc.get("spec")
    if obj.kind == "Pod":
        labels = obj.metadata.get("labels")
        pod = spec
    else:
        node = spec
        if obj.kind == "CronJob":
            job = node.get("jobTemplate") if isinstance(node, LineDict) else None
            node = job.get("spec") if isinstance(job, LineDict) else None
        template = node.get("template") if isinstance(node, LineDict) else None
        if not isinstance(template, LineDict):
            return None
        meta = template.get("metadata")
        labels = meta.get("labels") if isinstance(meta, LineDict) else None
        pod = template.get("spec")
    if not isinstance(pod, LineDict):
        return None
    found = {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}
    return PodTemplate(obj, pod, found)


def mapping(node: Any) -> LineDict:
    """`node` when it is a mapping, else an empty one: the one way the Kubernetes reader looks
    inside a field that should be a mapping (`spec: "x"` is then a manifest with nothing in
    it, for the cluster to refuse, never a traceback here)."""
    return node if isinstance(node, LineDict) else LineDict()


def port_number(node: Any) -> int | None:
    """A port field's number; None when it is not a whole number (`"x"`, `[]`, a name)."""
    return node if isinstance(node, int) and not isinstance(node, bool) else None


def mappings(node: Any) -> list[LineDict]:
    """The mapping items of a list node (anything else is ignored)."""
    return [item for item in node if isinstance(item, LineDict)] if isinstance(node, list) else []


def selector_matches(selector: Any, labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels and matchExpressions); an empty one matches every pod."""
    if not isinstance(selector, dict):
        return True
    match = selector.get("matchLabels") or {}
    if isinstance(match, dict) and any(labels.get(str(k)) != str(v) for k, v in match.items()):
        return False
    for expr in mappings(selector.get("matchExpressions")):
        key, op = str(expr.get("key")), str(expr.get("operator"))
        values = [str(v) for v in expr.get("values") or []]
        present = key in labels
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def service_selects(selector: Any, labels: dict[str, str]) -> bool:
    """A Service's plain map selector; an empty or missing one selects no pods."""
    if not isinstance(selector, dict) or not selector or not labels:
        return False
    return all(labels.get(str(k)) == str(v) for k, v in selector.items())


# --- values ----------------------------------------------------------------------------------

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$")


def parse_quantity(value: Any) -> int | None:
    """A Kubernetes quantity (`512Mi`, `1G`, `2e9`, `1500m`) in whole units, or None."""
    match = _QUANTITY.match(str(value).strip())
    if not match:
        return None
    number, suffix = match.group(1), match.group(2) or ""
    try:
        amount = Decimal(number)
    except InvalidOperation:
        return None
    if suffix == "m":
        return int(amount / 1000)
    factor = _BINARY.get(suffix) or _DECIMAL.get(suffix, 1)
    return int(amount * factor)


def secret_values(obj: KubeObject) -> tuple[dict[str, str], str]:
    """The decoded data of a Secret (stringData wins) and which fields held it."""
    values: dict[str, str] = {}
    fields = []
    data = obj.doc.get("data")
    if isinstance(data, dict) and data:
        fields.append("data")
        for key, encoded in data.items():
            try:
                values[str(key)] = base64.b64decode(str(encoded), validate=True).decode()
            except (binascii.Error, ValueError):
                continue
    string_data = obj.doc.get("stringData")
    if isinstance(string_data, dict) and string_data:
        fields.append("stringData")
        values.update({str(k): str(v) for k, v in string_data.items()})
    return values, "/".join(fields)


def configmap_values(obj: KubeObject) -> dict[str, str]:
    data = obj.doc.get("data")
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


# --- kustomize secretGenerator -----------------------------------------------------------------

GENERATED_FROM = labels.GENERATED_FROM


@dataclass(frozen=True)
class GeneratedFile:
    path: Path
    key: str
    secret: str
    location: Location


def _generator_files(obj: KubeObject, base: Path) -> Iterator[tuple[str, Path, Location]]:
    for generator in mappings(obj.doc.get("secretGenerator")):
        files = generator.get("files")
        for position, entry in enumerate(files if isinstance(files, list) else []):
            key, sep, path = str(entry).partition("=")
            relative = path if sep else key
            name = key if sep else Path(relative).name
            yield (
                f"{generator.get('name')}\0{name}",
                base / relative,
                at(files, position, obj.display),
            )


def _generator_file_text(path: Path, base: Path) -> str | None:
    """A secretGenerator file's text under the rules of the spec's secret files
    (faktctl.secretfiles): inside the kustomization's folder (kustomize refuses others too),
    a regular file (never /dev/zero or a FIFO), small, links only within the folder. None
    when it breaks a rule or is not UTF-8: its value is then not judged."""
    from faktctl.secretfiles import read_secret_bytes

    named = Path(os.path.normpath(path.absolute()))
    if not named.is_relative_to(Path(os.path.normpath(base.absolute()))):
        return None
    try:
        return read_secret_bytes(named, f"secretGenerator file {path}", inside=base).decode()
    except (UsageError, UnicodeDecodeError):
        return None


def generated_secrets(obj: KubeObject) -> tuple[list[KubeObject], list[GeneratedFile]]:
    """The Secrets a Kustomization's secretGenerator makes (`files` read from beside it,
    `literals` as written), and the host files that hold secrets."""
    if obj.kind != "Kustomization" or obj.display.startswith("<"):
        return [], []
    base = Path(obj.display).parent
    secrets: list[KubeObject] = []
    files: list[GeneratedFile] = []
    for generator in mappings(obj.doc.get("secretGenerator")):
        name = str(generator.get("name", ""))
        string_data: dict[str, str] = {}
        from_files = False
        for ident, path, where in _generator_files(obj, base):
            owner, _, key = ident.partition("\0")
            if owner != name:
                continue
            files.append(GeneratedFile(path, key, name, where))
            from_files = True
            text = _generator_file_text(path, base)
            if text is not None:
                string_data[key] = text
        literals = generator.get("literals")
        for item in literals if isinstance(literals, list) else []:
            key, _, value = str(item).partition("=")
            string_data[key] = value
        doc = LineDict(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": LineDict(
                    {
                        "name": name,
                        "namespace": obj.namespace or str(obj.doc.get("namespace") or ""),
                        "annotations": {GENERATED_FROM: "files" if from_files else "literals"},
                    }
                ),
                "stringData": string_data,
            }
        )
        doc.line, doc.col = generator.line, generator.col
        secrets.append(KubeObject(doc, obj.display))
    return secrets, files


def generated_from_files(obj: KubeObject) -> bool:
    """A Secret made by a secretGenerator from files: its values are not in any manifest."""
    notes = obj.metadata.get("annotations")
    return isinstance(notes, dict) and notes.get(GENERATED_FROM) == "files"
