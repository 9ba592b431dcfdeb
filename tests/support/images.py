"""Local stand-ins for the images the end-to-end tests need, built without pulling anything.

``ensure_faktory_image`` assembles an image equivalent to ``contribsys/faktory:<version>``:
the real Faktory server compiled from its Go module, Debian's redis-server/redis-cli with
their shared libraries, and a static BusyBox for the shell tools, laid out at the same paths
as the official image (binary at ``/faktory``, same CMD, EXPOSE and data directories).
``ensure_go_worker_image`` builds ``examples/go-worker`` from its own Dockerfile.

Both are cached by tag: the tag carries a short hash of the recipe, so editing the recipe
(this file, the example's sources, or the host binaries copied in) triggers a rebuild.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
from docker.models.images import Image

from faktctl import labels
from tests.support.provision import (
    GO_ENV,
    ProvisionError,
    Tool,
    deb_tool,
    faktory_server,
    file_lock,
    find_go,
)

FAKTORY_REPO = "faktctl-test/faktory"
GO_WORKER_REPO = "faktctl-test/go-worker"
CACHE_LABEL_VALUE = "image-cache"
RECIPE_LABEL = "io.faktctl.test-recipe"

REPO_ROOT = Path(__file__).resolve().parents[2]
GO_WORKER_DIR = REPO_ROOT / "examples" / "go-worker"
GO_WORKER_SOURCES = ("main.go", "go.mod", "go.sum", "Dockerfile")

# Debian's redis-server is a symlink to redis-check-rdb from redis-tools: fetch both together.
REDIS_PACKAGES = ("redis-server", "redis-tools")
BUSYBOX_APPLETS = (
    "sh", "ash", "wget", "nc", "ls", "cat", "ps", "sleep", "mkdir", "rm", "cp", "mv", "ln",
    "test", "[", "echo", "printf", "tar", "gzip", "gunzip", "sha256sum", "stat", "du", "df",
    "kill", "env", "id", "chmod", "chown", "touch", "head", "tail", "grep", "sed", "wc",
    "find", "date", "hostname", "netstat", "pidof", "true", "false", "uname", "sync",
)  # fmt: skip
EMPTY_DIRS = ("var/lib/faktory/db", "etc/faktory", "root/.faktory/db", ".faktory/db")
PATH_VALUE = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

FAKTORY_DOCKERFILE = f"""\
FROM scratch
COPY rootfs/ /
ENV HOME=/root PATH={PATH_VALUE}
EXPOSE 7419 7420
CMD ["/faktory", "-w", "0.0.0.0:7420", "-b", "0.0.0.0:7419"]
"""

GO_BUILD_TIMEOUT = 600.0


Assembler = Callable[[Path], None]
"""Fills a build context directory."""


class ImageBuildError(RuntimeError):
    """A test image could not be built; the message says what is missing or what failed."""


@dataclass(frozen=True)
class ImageTools:
    """The host-side ingredients of the Faktory image (the host's, or Debian's unpacked)."""

    redis_server: Tool
    redis_cli: Tool
    busybox: Tool


def find_image_tools() -> ImageTools:
    """redis-server, redis-cli and a static busybox: the host's, else fetched from Debian."""
    try:
        return ImageTools(
            redis_server=deb_tool("redis-server", REDIS_PACKAGES[0], extra_packages=REDIS_PACKAGES),
            redis_cli=deb_tool("redis-cli", REDIS_PACKAGES[0], extra_packages=REDIS_PACKAGES),
            busybox=_static_busybox(),
        )
    except ProvisionError as exc:
        raise ImageBuildError(f"cannot build the local Faktory test image: {exc}") from exc


def _static_busybox() -> Tool:
    """busybox must be static inside a scratch image: the host's only when it is."""
    tool = deb_tool("busybox", "busybox-static")
    if tool.root is None and not _is_static(tool.path):
        return deb_tool("busybox", "busybox-static", force_package=True)
    return tool


def _is_static(binary: Path) -> bool:
    done = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False)
    return "not a dynamic executable" in (done.stdout + done.stderr) or "statically" in done.stdout


def _file_digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def faktory_recipe_hash(version: str, tools: ImageTools, server: Path) -> str:
    """Short hash over everything that shapes the Faktory image."""
    parts = [version, _file_digest(__file__), _file_digest(server)]
    parts += [_file_digest(tool.path) for tool in (tools.redis_server, tools.redis_cli)]
    parts.append(_file_digest(tools.busybox.path))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def go_worker_recipe_hash() -> str:
    """Short hash over the Go worker's sources and this recipe."""
    parts = [_file_digest(__file__)]
    parts += [_file_digest(GO_WORKER_DIR / name) for name in GO_WORKER_SOURCES]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def _find_image(client: docker.DockerClient, tag: str) -> Image | None:
    try:
        return client.images.get(tag)
    except docker.errors.ImageNotFound:
        return None


def _split_tag(reference: str) -> tuple[str, str]:
    repo, _, tag = reference.rpartition(":")
    if not repo or "/" in tag:
        return reference, "latest"
    return repo, tag


def tag_alias(client: docker.DockerClient, source: str, alias: str) -> str:
    """Give the image ``source`` a second tag ``alias`` (same image id); returns ``alias``."""
    image = _find_image(client, source)
    if image is None:
        raise ImageBuildError(f"cannot tag {alias}: image {source} does not exist")
    repo, tag = _split_tag(alias)
    if not image.tag(repo, tag):
        raise ImageBuildError(f"docker refused to tag {source} as {alias}")
    return alias


def _copy_into(rootfs: Path, source: Path, target: str, mode: int = 0o755) -> None:
    """Copy ``source`` (following symlinks) to the absolute path ``target`` inside the rootfs."""
    destination = rootfs / target.lstrip("/")
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, destination)
    destination.chmod(mode)


def _install_busybox(rootfs: Path, busybox: Tool) -> None:
    _copy_into(rootfs, busybox.path, "/bin/busybox")
    for applet in BUSYBOX_APPLETS:
        (rootfs / "bin" / applet).symlink_to("busybox")


def _install_dynamic(rootfs: Path, tools: dict[str, Tool]) -> None:
    """Each tool at its image path, plus the shared libraries and loader it resolves to."""
    libraries: dict[str, Path] = {}
    for target, tool in tools.items():
        _copy_into(rootfs, tool.path, target)
        try:
            libraries.update((inside, source) for source, inside in tool.image_files())
        except ProvisionError as exc:
            raise ImageBuildError(str(exc)) from exc
    for inside, source in sorted(libraries.items()):
        _copy_into(rootfs, source, inside)


def _write_etc(rootfs: Path) -> None:
    etc = rootfs / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (etc / "group").write_text("root:x:0:root\n")


def _make_dirs(rootfs: Path) -> None:
    for relative in EMPTY_DIRS:
        (rootfs / relative).mkdir(parents=True, exist_ok=True)
    (rootfs / ".faktory").chmod(0o775)
    (rootfs / ".faktory" / "db").chmod(0o775)
    tmp = rootfs / "tmp"
    tmp.mkdir(exist_ok=True)
    tmp.chmod(0o1777)


def assemble_faktory_context(context: Path, tools: ImageTools, server: Path) -> None:
    """Lay out ``context/rootfs`` and ``context/Dockerfile`` for the Faktory image."""
    rootfs = context / "rootfs"
    rootfs.mkdir()
    _copy_into(rootfs, server, "/faktory")
    _install_dynamic(
        rootfs, {"/usr/bin/redis-server": tools.redis_server, "/usr/bin/redis-cli": tools.redis_cli}
    )
    _install_busybox(rootfs, tools.busybox)
    _write_etc(rootfs)
    _make_dirs(rootfs)
    (context / "Dockerfile").write_text(FAKTORY_DOCKERFILE)


def build_image(
    client: docker.DockerClient,
    context: Path,
    tag: str,
    image_labels: dict[str, str],
    description: str,
) -> None:
    """``docker build`` of a prepared context (never pulls)."""
    try:
        client.images.build(
            path=str(context), tag=tag, labels=image_labels, pull=False, rm=True, forcerm=True
        )
    except (docker.errors.BuildError, docker.errors.APIError) as exc:
        raise ImageBuildError(f"docker build of {description} failed: {exc}") from exc


def _ensure(
    client: docker.DockerClient,
    plain_tag: str,
    hashed_tag: str,
    recipe: str,
    assemble: Assembler,
) -> str:
    if _find_image(client, hashed_tag) is None:
        with file_lock(plain_tag.replace("/", "_").replace(":", "_")):
            if _find_image(client, hashed_tag) is None:
                with tempfile.TemporaryDirectory(prefix="faktctl-image-") as tmp:
                    assemble(Path(tmp))
                    image_labels = {labels.TEST: CACHE_LABEL_VALUE, RECIPE_LABEL: recipe}
                    build_image(client, Path(tmp), hashed_tag, image_labels, plain_tag)
    tag_alias(client, hashed_tag, plain_tag)
    return plain_tag


def faktory_server_binary(version: str) -> Path:
    """The real server at ``version``, built once from its Go module."""
    try:
        return faktory_server(version)
    except ProvisionError as exc:
        raise ImageBuildError(f"cannot build Faktory {version}: {exc}") from exc


def ensure_faktory_image(client: docker.DockerClient, version: str = "1.9.4") -> str:
    """Build (once) the local Faktory image and return its tag ``faktctl-test/faktory:<v>``."""
    tools = find_image_tools()
    server = faktory_server_binary(version)
    recipe = faktory_recipe_hash(version, tools, server)
    plain = f"{FAKTORY_REPO}:{version}"
    hashed = f"{FAKTORY_REPO}:{version}-r{recipe}"

    def assemble(context: Path) -> None:
        assemble_faktory_context(context, tools, server)

    return _ensure(client, plain, hashed, recipe, assemble)


def build_go_worker_binary(out: Path) -> Path:
    """Compile examples/go-worker statically (the same command as its build.sh)."""
    try:
        go = find_go()
    except ProvisionError as exc:
        raise ImageBuildError(f"cannot build the Go worker image: {exc}") from exc
    args = [go, "build", "-trimpath", "-ldflags", "-s -w", "-o", str(out), "."]
    env = {**os.environ, **GO_ENV}
    try:
        done = subprocess.run(
            args, cwd=GO_WORKER_DIR, env=env, capture_output=True, text=True,
            timeout=GO_BUILD_TIMEOUT, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise ImageBuildError(f"go build examples/go-worker timed out: {exc}") from exc
    if done.returncode != 0:
        raise ImageBuildError(f"go build examples/go-worker failed:\n{done.stderr[-2000:]}")
    return out


def ensure_go_worker_image(client: docker.DockerClient) -> str:
    """Build (once) ``examples/go-worker`` from its Dockerfile; returns the ``latest`` tag."""
    recipe = go_worker_recipe_hash()

    def assemble(context: Path) -> None:
        build_go_worker_binary(context / "go-worker")
        shutil.copyfile(GO_WORKER_DIR / "Dockerfile", context / "Dockerfile")

    plain, hashed = f"{GO_WORKER_REPO}:latest", f"{GO_WORKER_REPO}:r{recipe}"
    return _ensure(client, plain, hashed, recipe, assemble)
