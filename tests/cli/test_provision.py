"""The test suite's own provisioning: parsing apt's answers and failing with a usable message."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import provision

APT_CACHE_DEPENDS = """\
redis-tools
  Depends: adduser
  Depends: libatomic1
 |Depends: libsystemd0
  Depends: libelogind0
  Depends: <lua-bitop>
  Depends: libjemalloc2
  PreDepends: libc6
"""


def test_only_libraries_are_followed_and_the_first_alternative_wins() -> None:
    assert provision._direct_library_depends(APT_CACHE_DEPENDS) == [
        "libatomic1",
        "libsystemd0",
        "libjemalloc2",
        "libc6",
    ]


def test_without_apt_the_error_is_one_line_naming_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv(provision.HIDE_HOST_TOOLS_ENV, "1")
    monkeypatch.setenv(provision.CACHE_ENV, str(tmp_path / "cache"))
    with pytest.raises(provision.ProvisionError) as caught:
        provision.deb_tool("redis-cli", "redis-tools")
    message = str(caught.value)
    assert "\n" not in message
    assert "apt-get install redis-server redis-tools busybox-static" in message


def test_the_host_command_is_used_when_it_is_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "bin"
    folder.mkdir()
    command = folder / "redis-cli"
    command.write_text("#!/bin/sh\n")
    command.chmod(0o755)
    monkeypatch.setenv("PATH", str(folder))
    monkeypatch.delenv(provision.HIDE_HOST_TOOLS_ENV, raising=False)
    tool = provision.deb_tool("redis-cli", "redis-tools")
    assert tool.path == command
    assert tool.root is None
    assert tool.env == {}
