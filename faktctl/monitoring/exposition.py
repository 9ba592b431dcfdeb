"""Samples as Prometheus text (format 0.0.4) or OpenMetrics 1.0.0 (pure).

Every family of faktctl.monitoring.series gets its `# HELP` and `# TYPE` lines, even with no
sample this time (a scrape of a server that is down still says what the families are). The
scraper picks the format with its `Accept` header (`negotiate`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from faktctl.monitoring.series import BY_NAME, FAMILIES, Family

TEXT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"


class Sample(NamedTuple):  # a tuple: a scrape makes two for each queue
    name: str  # a family's name (faktctl.monitoring.series)
    labels: Mapping[str, str]
    value: float


def _escape_label(value: str) -> str:
    if "\\" not in value and "\n" not in value and '"' not in value:
        return value
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _line(sample: Sample, family: Family) -> str:
    labels = sample.labels
    if tuple(labels) == family.labels:  # the usual case: the family's labels in its order
        names: list[str] | tuple[str, ...] = family.labels
    else:
        names = [n for n in family.labels if n in labels]
        names += sorted(n for n in labels if n not in family.labels)
    inner = ",".join([f'{n}="{_escape_label(labels[n])}"' for n in names])
    return (
        f"{sample.name}{{{inner}}} {number(sample.value)}"
        if inner
        else (f"{sample.name} {number(sample.value)}")
    )


def render(samples: Iterable[Sample], *, openmetrics: bool = False) -> str:
    """The exposition of `samples`, grouped by family in the table's order."""
    grouped: dict[str, list[Sample]] = {f.name: [] for f in FAMILIES}
    for sample in samples:
        if sample.name not in BY_NAME:
            raise ValueError(f"{sample.name} is not a family of faktctl.monitoring.series")
        grouped[sample.name].append(sample)
    lines: list[str] = []
    for family in FAMILIES:
        lines += _HEADERS[openmetrics][family.name]
        lines += [_line(s, family) for s in grouped[family.name]]
    if openmetrics:
        lines.append("# EOF")
    return "\n".join(lines) + "\n"


def _header(family: Family, openmetrics: bool) -> tuple[str, str]:
    if openmetrics:
        kind = family.kind
        shown = family.family_name
    else:
        kind = "gauge" if family.kind == "info" else family.kind
        shown = family.name
    return f"# HELP {shown} {_escape_help(family.help)}", f"# TYPE {shown} {kind}"


_HEADERS = {om: {f.name: _header(f, om) for f in FAMILIES} for om in (False, True)}


def negotiate(accept: str | None) -> bool:
    """True when the `Accept` header prefers OpenMetrics to the text format."""
    if not accept:
        return False
    best_om, best_text = -1.0, -1.0
    for part in accept.split(","):
        media, *params = [p.strip() for p in part.split(";")]
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media == "application/openmetrics-text":
            best_om = max(best_om, quality)
        elif media in ("text/plain", "text/*", "*/*"):
            best_text = max(best_text, quality)
    return best_om > 0 and best_om >= best_text


def content_type(openmetrics: bool) -> str:
    return OPENMETRICS_TYPE if openmetrics else TEXT_TYPE
