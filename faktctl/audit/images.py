"""Image references: which images are a Faktory server, and which tag/version they pin."""

from __future__ import annotations

import re
from dataclasses import dataclass

OSS_NAME = "faktory"
ENTERPRISE_NAME = "faktory-ent"
_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class ImageRef:
    repository: str  # registry and path, without tag or digest
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        """The last path component: `faktory` for `registry:5000/contribsys/faktory:1.9.4`."""
        return self.repository.rsplit("/", 1)[-1]

    @property
    def is_faktory(self) -> bool:
        return self.name in {OSS_NAME, ENTERPRISE_NAME}

    @property
    def enterprise(self) -> bool:
        return self.name == ENTERPRISE_NAME

    @property
    def pinned(self) -> bool:
        return self.digest is not None or (self.tag is not None and self.tag != "latest")

    @property
    def version(self) -> tuple[int, int, int] | None:
        if self.tag is None:
            return None
        match = _VERSION.match(self.tag)
        if match is None:
            return None
        return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def parse_image(reference: str) -> ImageRef:
    text = reference.strip()
    digest = None
    if "@" in text:
        text, _, digest = text.partition("@")
    slash = text.rfind("/")
    colon = text.rfind(":")
    tag = None
    if colon > slash:
        text, tag = text[:colon], text[colon + 1 :]
    return ImageRef(repository=text, tag=tag or None, digest=digest or None)


def version_text(version: tuple[int, int, int]) -> str:
    return ".".join(str(part) for part in version)


def parse_version(text: str) -> tuple[int, int, int] | None:
    match = _VERSION.match(text.strip())
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
