"""Files given to `faktctl audit --compose` that are not compose files, named in one line.

Real repositories keep Faktory in Kubernetes manifests, Helm charts, CloudFormation templates
and ECS task definitions too. Parsed as compose they fail with a YAML parser's complaint
("but found another document", "could not determine a constructor for the tag '!Ref'"); this
module says what the file is and what to do instead. Pure text inspection: it is asked only
after the file failed to parse or turned out to have no `services:`.
"""

from __future__ import annotations

import re
from typing import Any

_HELM = re.compile(r"\{\{-?\s*(?:\.Values|\.Release|\.Chart|\.Capabilities|include\b|template\b|"
                   r"if\b|range\b|with\b|end\b|toYaml\b|define\b|\$)")  # fmt: skip
_CFN_TAG = re.compile(
    r"!(?:Ref|GetAtt|Sub|Join|If|Select|FindInMap|ImportValue|Base64|Split|GetAZs|Equals|"
    r"And|Or|Not|Condition|Cidr|Transform)\b"
)
_CFN_TEXT = re.compile(r"AWSTemplateFormatVersion|^\s*Type:\s*['\"]?AWS::", re.MULTILINE)
_K8S_KIND = re.compile(r"^kind:\s*['\"]?(\w+)", re.MULTILINE)
_K8S_API = re.compile(r"^apiVersion:\s*\S+", re.MULTILINE)
_ECS = re.compile(r"[\"']?containerDefinitions[\"']?\s*:")

NOT_AUDITED = (
    "faktctl audits compose files, ECS task definitions (JSON, CloudFormation, Terraform), "
    "Render blueprints and fly.toml (all with --compose), Kubernetes manifests (--k8s) and its "
    "own faktory.yaml"
)
_DOCKERFILE = re.compile(r"\A(?:\s*#[^\n]*\n|\s*\n)*\s*(?:ARG\s+\S+\s*\n\s*)*FROM\s+\S+", re.I)
_TERRAFORM = re.compile(r"^\s*(?:resource|module|provider|variable|terraform)\b[^\n]*\{", re.M)
_TOML_TABLE = re.compile(r"^\s*\[[\w.\-\[\]\s\"]+\]\s*$", re.M)
_NOMAD_JOB = re.compile(r"^\s*job\s+\"[^\"]+\"\s*\{", re.M)
# GitLab CI's reserved top-level keys, and what one of its jobs holds
_GITLAB_TOP = {"stages", "include", "workflow", "default", "variables"}
_GITLAB_JOB = {"script", "stage", "extends", "trigger"}


def _is_github_workflow(doc: Any) -> bool:
    # YAML 1.1 reads the bare key `on` as the boolean true
    return (
        isinstance(doc, dict) and isinstance(doc.get("jobs"), dict) and ("on" in doc or True in doc)
    )


def _is_gitlab_ci(doc: Any) -> bool:
    if not isinstance(doc, dict) or "services" in doc:
        return False
    jobs = [v for v in doc.values() if isinstance(v, dict)]
    has_job = any(_GITLAB_JOB & set(map(str, job)) for job in jobs)
    return has_job and (bool(_GITLAB_TOP & set(map(str, doc))) or len(jobs) == len(doc))


def _is_helm_values(doc: Any) -> bool:
    image = doc.get("image") if isinstance(doc, dict) else None
    return isinstance(image, dict) and "repository" in image and "services" not in doc


def unknown(display: str, what: str) -> str:
    """The line for a file no known format matches: what was wrong, and what faktctl audits."""
    return f"{display}: {what}; {NOT_AUDITED}"


def describe(text: str, display: str, doc: Any = None) -> str | None:
    """One line naming what `text` is when it is a known non-compose format, else None."""
    if _DOCKERFILE.search(text):
        return (
            f"{display} is a Dockerfile, not a compose file: {NOT_AUDITED}; audit the file "
            "that runs this image"
        )
    if _TERRAFORM.search(text):
        return (
            f"{display} is a Terraform configuration with no aws_ecs_task_definition, not a "
            f"compose file: {NOT_AUDITED}"
        )
    if _NOMAD_JOB.search(text):
        return f"{display} is a Nomad job specification, not a compose file: {NOT_AUDITED}"
    if _TOML_TABLE.search(text) and not text.lstrip().startswith(("{", "[{")):
        return f"{display} is a TOML file, not a compose file: {NOT_AUDITED}"
    if _HELM.search(text):
        return (
            f"{display} is a Helm chart template ({{{{ … }}}} directives), not a compose file: "
            "render it first (`helm template RELEASE CHART > manifests.yaml`), then run "
            "`faktctl audit --k8s manifests.yaml`"
        )
    if _CFN_TAG.search(text) or _CFN_TEXT.search(text):
        return f"{display} is an AWS CloudFormation template, not a compose file: {NOT_AUDITED}"
    if _ECS.search(text) or (isinstance(doc, dict) and "containerDefinitions" in doc):
        return f"{display} is an Amazon ECS task definition, not a compose file: {NOT_AUDITED}"
    if _is_github_workflow(doc):
        return (
            f"{display} is a GitHub Actions workflow (its `services:` are CI service containers, "
            f"not a deployment), not a compose file: {NOT_AUDITED}"
        )
    if _is_gitlab_ci(doc):
        return f"{display} is a GitLab CI configuration, not a compose file: {NOT_AUDITED}"
    if _is_helm_values(doc):
        return (
            f"{display} looks like a Helm chart's values file, not a compose file: render the "
            f"chart with it (`helm template RELEASE CHART -f {display} > manifests.yaml`), then "
            "run `faktctl audit --k8s manifests.yaml`"
        )
    kinds = _K8S_KIND.findall(text)
    if kinds and _K8S_API.search(text):
        shown = ", ".join(dict.fromkeys(kinds))
        return (
            f"{display} is a Kubernetes manifest (kind: {shown}), not a compose file: "
            f"audit it with `faktctl audit --k8s {display}`"
        )
    return None
