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

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
from docker.models.images import Image

from faktctl import labels

FAKTORY_REPO = "faktctl-test/faktory"
GO_WORKER_REPO = "faktctl-test/go-worker"
CACHE_LABEL_VALUE = "image-cache"
RECIPE_LABEL = "io.faktctl.test-recipe"
INSTALL_HINT = "apt-get install redis-server redis-tools busybox-static (and a Go toolchain)"

REPO_ROOT = Path(__file__).resolve().parents[2]
GO_WORKER_DIR = REPO_ROOT / "examples" / "go-worker"
GO_WORKER_SOURCES = ("main.go", "go.mod", "go.sum", "Dockerfile")

REDIS_BINARIES = ("/usr/bin/redis-server", "/usr/bin/redis-cli")
BUSYBOX = "/usr/bin/busybox"
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
LOCK_WAIT_SECONDS = 900.0
_LDD_PATH = re.compile(r"(/\S+)\s+\(0x[0-9a-f]+\)")


Assembler = Callable[[Path], None]
"""Fills a build context directory."""


class ImageBuildError(RuntimeError):
    """A test image could not be built; the message says what is missing or what failed."""


@dataclass(frozen=True)
class HostTools:
    go: str
    busybox: str
    redis: tuple[str, ...]


def find_host_tools() -> HostTools:
    """Locate go, redis-server, redis-cli and a static busybox, or explain what to install."""
    go = shutil.which("go")
    missing = [] if go else ["go (Go toolchain)"]
    missing += [path for path in (*REDIS_BINARIES, BUSYBOX) if not os.path.isfile(path)]
    if missing or go is None:
        raise ImageBuildError(
            f"cannot build the local Faktory test image, missing: {', '.join(missing)}; "
            f"install them with: {INSTALL_HINT}"
        )
    return HostTools(go=go, busybox=BUSYBOX, redis=REDIS_BINARIES)


def _file_digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def faktory_recipe_hash(version: str, tools: HostTools) -> str:
    """Short hash over everything that shapes the Faktory image."""
    parts = [version, _file_digest(__file__), *(_file_digest(p) for p in tools.redis)]
    parts.append(_file_digest(tools.busybox))
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


@contextlib.contextmanager
def _build_lock(name: str) -> Iterator[None]:
    """Serialise builds across processes (parallel test runs) with a bounded wait."""
    path = Path(tempfile.gettempdir()) / f"faktctl-test-{name}.lock"
    with path.open("w") as handle:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ImageBuildError(f"timed out waiting for the build lock {path}") from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(args: list[str], cwd: Path, what: str) -> None:
    env = {**os.environ, "CGO_ENABLED": "0", "GOWORK": "off", "GOFLAGS": "-mod=mod"}
    try:
        done = subprocess.run(
            args, cwd=cwd, env=env, capture_output=True, text=True, timeout=GO_BUILD_TIMEOUT
        )
    except subprocess.TimeoutExpired as exc:
        raise ImageBuildError(f"{what} timed out after {GO_BUILD_TIMEOUT:g}s") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip()[-2000:]
        raise ImageBuildError(f"{what} failed ({' '.join(args)}):\n{tail}")


def build_faktory_binary(go: str, version: str, out: Path) -> Path:
    """Compile github.com/contribsys/faktory/cmd/faktory@v<version> into ``out``."""
    package = "github.com/contribsys/faktory/cmd/faktory"
    with tempfile.TemporaryDirectory(prefix="faktctl-fkbuild-") as tmp:
        work = Path(tmp)
        _run([go, "mod", "init", "fkbuild"], work, "go mod init")
        _run([go, "get", f"{package}@v{version}"], work, f"go get faktory v{version}")
        build = [go, "build", "-trimpath", "-ldflags", "-s -w", "-o", str(out), package]
        _run(build, work, "go build faktory")
    return out


def shared_libraries(binary: str) -> list[str]:
    """Absolute paths of the libraries and loader that ``ldd`` lists for ``binary``."""
    done = subprocess.run(["ldd", binary], capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise ImageBuildError(f"ldd {binary} failed: {done.stderr.strip()}")
    return sorted({match.group(1) for match in _LDD_PATH.finditer(done.stdout)})


def _copy_into(rootfs: Path, source: str, target: str | None = None, mode: int = 0o755) -> None:
    """Copy ``source`` to the same path (or ``target``) inside the rootfs, following symlinks."""
    destination = rootfs / (target or source).lstrip("/")
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, destination)
    destination.chmod(mode)


def _install_busybox(rootfs: Path, busybox: str) -> None:
    _copy_into(rootfs, busybox, target="/bin/busybox")
    for applet in BUSYBOX_APPLETS:
        (rootfs / "bin" / applet).symlink_to("busybox")


def _install_redis(rootfs: Path, binaries: tuple[str, ...]) -> None:
    libraries: set[str] = set()
    for binary in binaries:
        _copy_into(rootfs, binary)
        libraries.update(shared_libraries(binary))
    for library in sorted(libraries):
        _copy_into(rootfs, library)


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


def assemble_faktory_context(context: Path, tools: HostTools, version: str) -> None:
    """Lay out ``context/rootfs`` and ``context/Dockerfile`` for the Faktory image."""
    rootfs = context / "rootfs"
    rootfs.mkdir()
    build_faktory_binary(tools.go, version, rootfs / "faktory")
    (rootfs / "faktory").chmod(0o755)
    _install_redis(rootfs, tools.redis)
    _install_busybox(rootfs, tools.busybox)
    _write_etc(rootfs)
    _make_dirs(rootfs)
    (context / "Dockerfile").write_text(FAKTORY_DOCKERFILE)


def _build_image(
    client: docker.DockerClient, context: Path, tag: str, recipe: str, description: str
) -> None:
    build_labels = {labels.TEST: CACHE_LABEL_VALUE, RECIPE_LABEL: recipe}
    try:
        client.images.build(
            path=str(context), tag=tag, labels=build_labels, pull=False, rm=True, forcerm=True
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
        with _build_lock(plain_tag.replace("/", "_").replace(":", "_")):
            if _find_image(client, hashed_tag) is None:
                with tempfile.TemporaryDirectory(prefix="faktctl-image-") as tmp:
                    assemble(Path(tmp))
                    _build_image(client, Path(tmp), hashed_tag, recipe, plain_tag)
    tag_alias(client, hashed_tag, plain_tag)
    return plain_tag


def ensure_faktory_image(client: docker.DockerClient, version: str = "1.9.4") -> str:
    """Build (once) the local Faktory image and return its tag ``faktctl-test/faktory:<v>``."""
    tools = find_host_tools()
    recipe = faktory_recipe_hash(version, tools)
    plain = f"{FAKTORY_REPO}:{version}"
    hashed = f"{FAKTORY_REPO}:{version}-r{recipe}"

    def assemble(context: Path) -> None:
        assemble_faktory_context(context, tools, version)

    return _ensure(client, plain, hashed, recipe, assemble)


def build_go_worker_binary(go: str, out: Path) -> Path:
    """Compile examples/go-worker statically (the same command as its build.sh)."""
    args = [go, "build", "-trimpath", "-ldflags", "-s -w", "-o", str(out), "."]
    _run(args, GO_WORKER_DIR, "go build examples/go-worker")
    return out


def ensure_go_worker_image(client: docker.DockerClient) -> str:
    """Build (once) ``examples/go-worker`` from its Dockerfile; returns the ``latest`` tag."""
    go = shutil.which("go")
    if go is None:
        raise ImageBuildError(f"cannot build the Go worker image: go not found; {INSTALL_HINT}")
    recipe = go_worker_recipe_hash()

    def assemble(context: Path) -> None:
        build_go_worker_binary(go, context / "go-worker")
        shutil.copyfile(GO_WORKER_DIR / "Dockerfile", context / "Dockerfile")

    plain, hashed = f"{GO_WORKER_REPO}:latest", f"{GO_WORKER_REPO}:r{recipe}"
    return _ensure(client, plain, hashed, recipe, assemble)
