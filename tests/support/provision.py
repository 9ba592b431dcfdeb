"""What the test suite needs from outside Python, fetched and cached by the suite itself.

A fresh machine of this kind reaches two registries: the Go module proxy and Debian's archive.
Everything the tests need beyond the wheelhouse comes from one of them:

- ``go_binary`` builds a Go package at a pinned module version (the real Faktory server,
  docker compose v2, kube-apiserver, helm, rest-server ...) once, into a cache folder;
- ``deb_tool`` uses the host's command when it is on PATH, and otherwise fetches the Debian
  package (and the library packages it needs) with ``apt-get download`` and unpacks it with
  ``dpkg-deb -x`` into the cache: nothing is installed on the host.

The cache lives in ``$FAKTCTL_TEST_CACHE`` (default ``~/.cache/faktctl-test``). Builds and
downloads are serialised across processes by a file lock, and every result is moved into place
only when complete, so an interrupted run leaves nothing half-built behind.

Set ``FAKTCTL_TEST_HIDE_HOST_TOOLS=1`` to ignore the host's commands and always take Debian's
packages (the test that proves a fresh machine works does this).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

CACHE_ENV = "FAKTCTL_TEST_CACHE"
HIDE_HOST_TOOLS_ENV = "FAKTCTL_TEST_HIDE_HOST_TOOLS"
LOCK_WAIT_SECONDS = 2400.0
COMMAND_TIMEOUT = 900.0
# Bumped when the way binaries are built changes, so cached results are rebuilt.
RECIPE_VERSION = "1"

COMPOSE_MODULE = "github.com/docker/compose/v2"
COMPOSE_VERSION = "v2.40.3"

_LIB_DIRS = ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib", "usr/lib", "lib64")
_BIN_DIRS = ("usr/bin", "bin", "usr/sbin", "sbin", "usr/lib/systemd")
_LDD_LINE = re.compile(r"^\s*(\S+)\s+=>\s+(\S+)\s+\(0x[0-9a-f]+\)")
_LDD_LOADER = re.compile(r"^\s*(/\S+)\s+\(0x[0-9a-f]+\)")


class ProvisionError(RuntimeError):
    """Something the tests need cannot be had; the message names the command that fixes it."""


def cache_root() -> Path:
    configured = os.environ.get(CACHE_ENV)
    return Path(configured) if configured else Path.home() / ".cache" / "faktctl-test"


def host_tools_hidden() -> bool:
    return os.environ.get(HIDE_HOST_TOOLS_ENV, "").lower() in ("1", "true", "yes")


@contextlib.contextmanager
def file_lock(name: str, wait_s: float = LOCK_WAIT_SECONDS) -> Iterator[None]:
    """Hold an exclusive lock shared by every test process on this machine (bounded wait)."""
    folder = cache_root() / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.lock"
    with path.open("w") as handle:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ProvisionError(f"timed out waiting for the lock {path}") from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(
    args: Sequence[str],
    cwd: Path,
    what: str,
    env: Mapping[str, str] | None = None,
    timeout: float = COMMAND_TIMEOUT,
) -> str:
    try:
        done = subprocess.run(
            list(args),
            cwd=cwd,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise ProvisionError(f"{what}: {args[0]} not found") from exc
    except subprocess.TimeoutExpired as exc:
        raise ProvisionError(f"{what} timed out after {timeout:g}s") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip()[-2000:]
        raise ProvisionError(f"{what} failed ({' '.join(args)}):\n{tail}")
    return done.stdout


# --- Go ---------------------------------------------------------------------------------------


def find_go() -> str:
    """The go command: on PATH, or where the official tarball puts it."""
    found = shutil.which("go") or (
        "/usr/local/go/bin/go" if os.access("/usr/local/go/bin/go", os.X_OK) else None
    )
    if found is None:
        raise ProvisionError(
            "the tests build Go programs from the module proxy but `go` is missing; install Go "
            "(e.g. apt-get install golang-go) or put /usr/local/go/bin on PATH"
        )
    return found


GO_ENV = {"CGO_ENABLED": "0", "GOWORK": "off", "GOFLAGS": "-mod=mod"}


def go_binary(
    name: str,
    module: str,
    version: str,
    package: str | None = None,
    *,
    replace: Mapping[str, str] | None = None,
    timeout: float = 1800.0,
    tags: Sequence[str] = (),
) -> Path:
    """Build ``package`` (default: the module's root) from ``module@version``, once.

    ``replace`` maps a module path to ``module@version`` for go.mod replace directives (the
    Kubernetes server needs them for its staging modules). ``tags`` are Go build tags (the
    Prometheus server drops its cloud service discoveries with ``remove_all_sd``). Returns the
    executable's path.
    """
    package = package or module
    recipe_parts: list[object] = [
        RECIPE_VERSION,
        name,
        module,
        version,
        package,
        sorted((replace or {}).items()),
    ]
    if tags:
        recipe_parts.append(sorted(tags))
    recipe = json.dumps(recipe_parts)
    key = hashlib.sha256(recipe.encode()).hexdigest()[:12]
    folder = cache_root() / "go" / f"{name}-{version}-{key}"
    binary = folder / name
    if binary.is_file():
        return binary
    with file_lock(f"go-{name}-{version}"):
        if binary.is_file():
            return binary
        go = find_go()
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f"faktctl-go-{name}-") as tmp:
            work = Path(tmp)
            _run([go, "mod", "init", "provision"], work, "go mod init", GO_ENV)
            if replace:
                _prepare_replaced_module(go, work, module, version, package, replace)
            else:
                _run([go, "get", f"{package}@{version}"], work, f"go get {package}@{version}",
                     GO_ENV, timeout)  # fmt: skip
            partial = folder / f".{name}.partial"
            build = [go, "build", "-trimpath", "-ldflags", "-s -w", "-o", str(partial)]
            build += [f"-tags={','.join(sorted(tags))}", package] if tags else [package]
            _run(build, work, f"go build {package}", GO_ENV, timeout)
            partial.chmod(0o755)
            partial.rename(binary)
    return binary


def _prepare_replaced_module(
    go: str, work: Path, module: str, version: str, package: str, replace: Mapping[str, str]
) -> None:
    for old, new in sorted(replace.items()):
        _run([go, "mod", "edit", f"-replace={old}={new}"], work, "go mod edit -replace", GO_ENV)
    _run([go, "mod", "edit", f"-require={module}@{version}"], work, "go mod edit -require", GO_ENV)
    (work / "tools.go").write_text(
        f'//go:build tools\n\npackage provision\n\nimport _ "{package}"\n'
    )
    _run([go, "mod", "tidy"], work, f"go mod tidy for {module}@{version}", GO_ENV, 1800.0)


def compose_v2() -> Path:
    """docker compose v2 (the CLI most users run), built from its module as a standalone binary."""
    return go_binary("docker-compose", COMPOSE_MODULE, COMPOSE_VERSION, f"{COMPOSE_MODULE}/cmd")


def faktory_server(version: str) -> Path:
    """The real Faktory server binary at ``version`` (e.g. ``1.10.0``)."""
    module = "github.com/contribsys/faktory"
    return go_binary("faktory", module, f"v{version}", f"{module}/cmd/faktory")


# --- Debian packages --------------------------------------------------------------------------


@dataclass(frozen=True)
class Tool:
    """A command to run: the host's, or one unpacked from Debian's packages."""

    path: Path
    lib_dirs: tuple[Path, ...] = ()
    root: Path | None = None  # the unpacked packages' root, None for the host's own command

    @property
    def env(self) -> dict[str, str]:
        """Variables to add to the environment when running it."""
        if not self.lib_dirs:
            return {}
        existing = os.environ.get("LD_LIBRARY_PATH")
        dirs = [str(d) for d in self.lib_dirs] + ([existing] if existing else [])
        return {"LD_LIBRARY_PATH": ":".join(dirs)}

    def argv(self, *args: str) -> list[str]:
        return [str(self.path), *args]

    def run(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args),
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def image_files(self) -> list[tuple[Path, str]]:
        """(source on this host, absolute path inside an image) for the binary's shared
        libraries and loader, resolved the way the binary will load them."""
        done = subprocess.run(
            ["ldd", str(self.path)],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if "not a dynamic executable" in done.stdout + done.stderr:
            return []
        if done.returncode != 0 or "not found" in done.stdout:
            raise ProvisionError(f"ldd {self.path} cannot resolve its libraries:\n{done.stdout}")
        files: list[tuple[Path, str]] = []
        for line in done.stdout.splitlines():
            if match := _LDD_LINE.match(line):
                files.append(self._placed(Path(match.group(2))))
            elif match := _LDD_LOADER.match(line):
                files.append((self._loader(Path(match.group(1))), match.group(1)))
        return files

    def _placed(self, library: Path) -> tuple[Path, str]:
        if self.root is not None and library.is_relative_to(self.root):
            return library, "/" + str(library.relative_to(self.root))
        return library, str(library)

    def _loader(self, loader: Path) -> Path:
        """The loader from the unpacked packages when they carry one, else the host's."""
        if self.root is not None:
            candidate = self.root / "lib" / "x86_64-linux-gnu" / loader.name
            if candidate.is_file():
                return candidate
        return loader


def _apt_lists_empty() -> bool:
    lists = Path("/var/lib/apt/lists")
    return not any(p.name.endswith(("_Packages", "_Packages.lz4", "_Packages.xz"))
                   for p in lists.glob("*"))  # fmt: skip


def _apt(args: Sequence[str], cwd: Path, what: str) -> str:
    if shutil.which("apt-get") is None:
        raise ProvisionError(f"{what}: this machine has no apt-get; {install_hint()}")
    if _apt_lists_empty():
        if os.geteuid() != 0:
            raise ProvisionError(f"{what}: apt's package lists are empty; run: apt-get update")
        _run(["apt-get", "update", "-qq"], cwd, "apt-get update", timeout=600.0)
    return _run(args, cwd, what, timeout=600.0)


def install_hint() -> str:
    return "install the test tools with: apt-get install redis-server redis-tools busybox-static"


def library_closure(packages: Sequence[str]) -> list[str]:
    """``packages`` plus the library packages (``lib*``) they depend on, recursively.

    Only libraries are followed: scripts' dependencies (adduser, perl ...) are never needed to
    run a binary. Of alternatives (``a | b``) the first one is taken.
    """
    wanted = list(dict.fromkeys(packages))
    memo = _closure_memo(wanted)
    if memo is not None and memo.is_file():
        remembered = json.loads(memo.read_text())
        if isinstance(remembered, list):
            return [str(name) for name in remembered]
    closure = _library_closure(wanted)
    if memo is not None:
        memo.parent.mkdir(parents=True, exist_ok=True)
        partial = memo.with_suffix(f".{os.getpid()}.partial")
        partial.write_text(json.dumps(closure))
        partial.replace(memo)
    return closure


def _closure_memo(packages: Sequence[str]) -> Path | None:
    """Where the closure of ``packages`` is remembered while apt's package lists stay the same
    (one `apt-cache depends` per package takes seconds on a busy machine)."""
    lists = Path("/var/lib/apt/lists")
    try:
        stamp = max(p.stat().st_mtime_ns for p in lists.glob("*_Packages*"))
    except (OSError, ValueError):
        return None
    key = json.dumps([RECIPE_VERSION, sorted(packages), stamp])
    return cache_root() / "deb" / f"closure-{hashlib.sha256(key.encode()).hexdigest()[:12]}.json"


def _library_closure(wanted: list[str]) -> list[str]:
    seen: set[str] = set()
    queue = list(wanted)
    while queue:
        package = queue.pop()
        if package in seen:
            continue
        seen.add(package)
        out = _apt(["apt-cache", "depends", "--no-recommends", "--no-suggests", "--no-conflicts",
                    "--no-breaks", "--no-replaces", "--no-enhances", package],
                   Path.cwd(), f"apt-cache depends {package}")  # fmt: skip
        for dependency in _direct_library_depends(out):
            if dependency not in seen:
                queue.append(dependency)
    return sorted(seen)


def _direct_library_depends(apt_cache_output: str) -> list[str]:
    found: list[str] = []
    take_next = True
    for line in apt_cache_output.splitlines():
        stripped = line.strip()
        match = re.match(r"^(\|?)(Pre)?Depends:\s+(\S+)", stripped)
        if match is None:
            continue
        is_alternative_start = match.group(1) == "|"
        name = match.group(3)
        if take_next and not name.startswith("<") and name.startswith("lib"):
            found.append(name)
        # An alternative group `|a`, `b` takes only its first member.
        take_next = not is_alternative_start
    return found


def deb_root(packages: Sequence[str]) -> Path:
    """Download ``packages`` with apt-get and unpack them into one cached folder (its root)."""
    names = sorted(set(packages))
    key = hashlib.sha256(json.dumps([RECIPE_VERSION, names]).encode()).hexdigest()[:12]
    root = cache_root() / "deb" / key
    if (root / ".complete").is_file():
        return root
    with file_lock(f"deb-{key}"):
        if (root / ".complete").is_file():
            return root
        if shutil.which("dpkg-deb") is None:
            raise ProvisionError(f"dpkg-deb is missing; {install_hint()}")
        with tempfile.TemporaryDirectory(prefix="faktctl-deb-") as tmp:
            work = Path(tmp)
            _apt(["apt-get", "download", *names], work, f"apt-get download {' '.join(names)}")
            unpacked = work / "root"
            for deb in sorted(work.glob("*.deb")):
                _run(["dpkg-deb", "-x", str(deb), str(unpacked)], work, f"dpkg-deb -x {deb.name}")
            (unpacked / ".complete").write_text("\n".join(names) + "\n")
            if root.exists():
                shutil.rmtree(root)
            root.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(unpacked), str(root))
    return root


def _find_in(root: Path, command: str) -> Path | None:
    for folder in _BIN_DIRS:
        candidate = root / folder / command
        if candidate.exists():
            return _resolve_inside(root, candidate)
    return None


def _resolve_inside(root: Path, path: Path) -> Path:
    """Follow symlinks the way they resolve inside ``root`` (absolute targets are re-rooted)."""
    for _ in range(40):
        if not path.is_symlink():
            return path
        target = Path(os.readlink(path))
        path = root / str(target).lstrip("/") if target.is_absolute() else path.parent / target
    raise ProvisionError(f"too many symlinks under {root} for {path}")


def deb_tool(
    command: str,
    package: str,
    *,
    extra_packages: Sequence[str] = (),
    force_package: bool = False,
) -> Tool:
    """The host's ``command``, or the one from Debian's ``package`` unpacked into the cache.

    The package's library dependencies are unpacked beside it (plus ``extra_packages``, for a
    command whose package ships it as a link into another package), so the command runs with
    ``Tool.env`` even when the host lacks them. ``force_package`` ignores the host's command.
    """
    if not (force_package or host_tools_hidden()):
        on_path = shutil.which(command)
        if on_path is not None:
            return Tool(Path(on_path))
    root = deb_root(library_closure([package, *extra_packages]))
    binary = _find_in(root, command)
    if binary is None:
        raise ProvisionError(f"Debian's package {package} has no command {command}")
    lib_dirs = tuple(root / d for d in _LIB_DIRS if (root / d).is_dir())
    return Tool(binary, lib_dirs, root)


# --- CI tooling (issue 22): the workflow linter and pre-commit --------------------------------
ACTIONLINT_MODULE = "github.com/rhysd/actionlint"
ACTIONLINT_VERSION = "v1.7.12"
# Debian's pre-commit and the Python packages it imports (pure Python, run by the system's
# python3 with them on PYTHONPATH), plus the wheels virtualenv seeds a hook's environment with.
PRE_COMMIT_PACKAGES = (
    "pre-commit", "python3-cfgv", "python3-identify", "python3-importlib-metadata",
    "python3-zipp", "nodeenv", "python3-pkg-resources", "python3-virtualenv", "python3-distlib",
    "python3-filelock", "python3-platformdirs", "python3-pip-whl", "python3-setuptools-whl",
    "python3-wheel-whl", "python3-yaml", "python3-distutils",
)  # fmt: skip


def actionlint() -> Path:
    """rhysd/actionlint, the linter GitHub workflow files are checked with."""
    return go_binary(
        "actionlint", ACTIONLINT_MODULE, ACTIONLINT_VERSION, f"{ACTIONLINT_MODULE}/cmd/actionlint"
    )


@dataclass(frozen=True)
class PreCommit:
    python: str  # Debian's python3, which the packages were built for
    root: Path

    def env(self) -> dict[str, str]:
        """Variables that make `python3 -m pre_commit` run from the unpacked packages, and seed
        hook environments from their wheels."""
        wheels = str(self.root / "usr" / "share" / "python-wheels")
        return {
            "PYTHONPATH": str(self.root / "usr" / "lib" / "python3" / "dist-packages"),
            # Debian's virtualenv looks for its seed wheels in /usr/share/python-wheels, then
            # asks pip: point both at the unpacked ones
            "VIRTUALENV_EXTRA_SEARCH_DIR": wheels,
            "PIP_FIND_LINKS": wheels,
        }

    def argv(self, *args: str) -> list[str]:
        return [self.python, "-m", "pre_commit", *args]


def pre_commit() -> PreCommit:
    python = shutil.which("python3", path="/usr/bin")
    if python is None:
        raise ProvisionError("Debian's /usr/bin/python3 is needed to run Debian's pre-commit")
    return PreCommit(python, deb_root(PRE_COMMIT_PACKAGES))
