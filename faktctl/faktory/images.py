"""Image references: which images are a Faktory server, and which tag/version they pin."""

from __future__ import annotations

from dataclasses import dataclass

from faktctl.faktory.versions import parse_version

OSS_NAME = "faktory"
ENTERPRISE_NAME = "faktory-ent"


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
        return None if self.tag is None else parse_version(self.tag)


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
