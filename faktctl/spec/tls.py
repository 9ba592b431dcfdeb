"""The `server.tls:` section of faktory.yaml: whether the server speaks TLS on 7419 and 7420.

Faktory 1.9+ serves TLS (1.2 or newer) on both ports when `public.cert.pem` and
`private.key.pem` sit in its config folder (/etc/faktory in production). faktctl either mounts
files the operator made (`files`) or makes a private CA and a server certificate itself
(`generate`, kept under secrets/tls/). docs/workers-on-other-hosts.md explains each key.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from faktctl.spec.types import PathOf, rule_error

TlsMode = Literal["off", "files", "generate"]
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DNS_NAME = re.compile(rf"^(\*\.)?{_LABEL}(\.{_LABEL})*$")


class Tls(BaseModel):
    """TLS on both Faktory ports; workers get `tcp+tls://` and the CA that signed the server."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: TlsMode = Field(
        default="off",
        description="off: plain TCP; files: mount cert_file/key_file; generate: faktctl makes "
        "a private CA and a server certificate under secrets/tls/.",
    )
    cert_file: Annotated[str, PathOf("file")] | None = Field(
        default=None,
        description="files: the server certificate (PEM, chain allowed), relative to the spec.",
    )
    key_file: Annotated[str, PathOf("file")] | None = Field(
        default=None,
        description="files: the server's private key (PEM, mode 0600), relative to the spec.",
    )
    ca_file: Annotated[str, PathOf("file")] | None = Field(
        default=None,
        description="files: the CA certificate workers trust (default: none; workers then "
        "rely on their system roots).",
    )
    names: list[str] = Field(
        default_factory=list,
        description="Extra DNS names or IP addresses workers use to reach the server; "
        "generate puts them in the certificate beside the service name and published "
        "addresses.",
    )

    @field_validator("names")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not is_ip(name) and not _DNS_NAME.fullmatch(name):
                raise ValueError(f"`{name}` is neither a DNS name nor an IP address")
        return value

    @field_validator("cert_file", "key_file", "ca_file")
    @classmethod
    def _file(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or value.endswith("/")):
            raise ValueError(f"`{value}` does not name a file")
        return value

    @model_validator(mode="after")
    def _files_match_mode(self) -> Tls:
        given = [n for n in ("cert_file", "key_file", "ca_file") if getattr(self, n) is not None]
        if self.mode == "files":
            for needed in ("cert_file", "key_file"):
                if getattr(self, needed) is None:
                    raise rule_error(
                        f"mode files needs {needed}",
                        needed,
                        "or use mode: generate and faktctl makes the certificate",
                    )
        elif given:
            raise rule_error(
                f"{given[0]} is only read with mode: files (mode is {self.mode})",
                given[0],
                "set mode: files, or remove it",
            )
        return self

    @property
    def on(self) -> bool:
        return self.mode != "off"


def is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
