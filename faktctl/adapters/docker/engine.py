"""The Docker engine adapter: the only faktctl module that imports the docker SDK.

It connects the way the docker CLI does (DOCKER_HOST, then the active docker context, then the
local socket), offers small primitives on raw engine dicts, and turns every engine failure into
a one-line FaktctlError: `EngineUnavailable` (exit 3, naming the engine address in use),
`PortInUse`, `ImageUnavailable`, `BuildFailed`, `NameConflict`, `ObjectNotFound`, `EngineError`.

The SDK is imported inside the functions that need it, so importing this module stays cheap.

Extra labels: when FAKTCTL_EXTRA_LABELS is set (`key=value,key2=value2`), every container,
network, volume and image this adapter creates carries those labels too. The end-to-end tests
use it to tag what they create with `io.faktctl.test=<session>`; the labels never take part in
the config hash, so setting them does not make faktctl recreate anything.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faktctl.desired import Healthcheck, Mount, Publish
from faktctl.errors import EngineUnavailable, OperationFailed
from faktctl.live.reach import engine_host
from faktctl.secretvalue import SecretStr

if TYPE_CHECKING:
    import docker

DEFAULT_HOST = "unix:///var/run/docker.sock"
EXTRA_LABELS_VAR = "FAKTCTL_EXTRA_LABELS"
API_TIMEOUT_S = 60
CONNECTIONS = 32  # kept open for reuse: more than faktctl ever has in flight at once
DEFAULT_STOP_TIMEOUT_S = 10
INSPECT_PARALLEL = 8
_NS = 1_000_000_000
_ADDRESS_IN_MESSAGE = re.compile(r"(?:listen tcp[46]? |Bind for )(\[[0-9a-fA-F:]+\]|[0-9.]+):(\d+)")

RawDict = dict[str, Any]
ProgressLine = Callable[[str], None]


# --- errors ----------------------------------------------------------------------------------


class PortInUse(OperationFailed):
    """A host port the spec publishes is already taken."""


class ImageUnavailable(OperationFailed):
    """An image is neither present locally nor pullable."""


class BuildFailed(OperationFailed):
    """An image build failed."""


class NameConflict(OperationFailed):
    """A container name is taken by an object faktctl does not manage here."""


class ObjectNotFound(OperationFailed):
    """A container, network, volume or file vanished or never existed."""


class EngineError(OperationFailed):
    """Any other refusal by the engine."""


def engine_address(environ: Mapping[str, str] | None = None) -> str:
    """The engine address faktctl will use, in the docker CLI's order of precedence."""
    env = os.environ if environ is None else environ
    if env.get("DOCKER_HOST"):
        return env["DOCKER_HOST"]
    with contextlib.suppress(Exception):  # a broken ~/.docker/config.json must not hide the cause
        from docker.context import ContextAPI

        base_url = ContextAPI.kwargs_from_context(environment=dict(env)).get("base_url")
        if base_url:
            return str(base_url)
    return DEFAULT_HOST


def _address_label(address: str) -> str:
    if os.environ.get("DOCKER_HOST"):
        return f"{address} (DOCKER_HOST)"
    if address == DEFAULT_HOST:
        return f"{address} (DOCKER_HOST is not set)"
    return f"{address} (docker context)"


def _first_line(text: str, limit: int = 300) -> str:
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _why_unreachable(exc: BaseException) -> tuple[str, str]:
    text = str(exc)
    if "Permission denied" in text or isinstance(exc, PermissionError):
        return "permission denied", "add your user to the docker group, or use a rootless engine"
    if "No such file or directory" in text or "FileNotFoundError" in text:
        return "no engine socket there", "start the Docker engine, or set DOCKER_HOST"
    if "Connection refused" in text:
        return "connection refused", "start the Docker engine, or fix DOCKER_HOST"
    if "timed out" in text.lower():
        return "the engine did not answer", "check that the engine is running and reachable"
    reason = _first_line(text.replace("Error while fetching server API version: ", ""))
    return reason or type(exc).__name__, "start the Docker engine, or fix DOCKER_HOST"


def unavailable(address: str, exc: BaseException, doing: str = "") -> EngineUnavailable:
    reason, hint = _why_unreachable(exc)
    while_doing = f" while {doing}" if doing else ""
    return EngineUnavailable(
        f"cannot reach the Docker engine at {_address_label(address)}{while_doing}: {reason}",
        hint,
    )


def _explanation(exc: BaseException) -> str:
    explanation = getattr(exc, "explanation", None)
    return _first_line(str(explanation if explanation else exc))


def _port_in_use(text: str, doing: str) -> PortInUse | None:
    if "port is already allocated" not in text and "address already in use" not in text:
        return None
    match = _ADDRESS_IN_MESSAGE.search(text)
    where = f"host port {match.group(1)}:{match.group(2)}" if match else "a published host port"
    return PortInUse(
        f"{doing}: {where} is already in use",
        "stop what listens there, or change server.ports in the spec",
    )


def translate(exc: BaseException, doing: str, address: str) -> Exception:
    """Map an SDK, requests or socket exception to a one-line FaktctlError."""
    import docker.errors
    import requests.exceptions

    if isinstance(exc, docker.errors.ImageNotFound):
        return ImageUnavailable(f"{doing}: {_explanation(exc)}")
    if isinstance(exc, docker.errors.NotFound):
        return ObjectNotFound(f"{doing}: {_explanation(exc)}")
    if isinstance(exc, docker.errors.APIError):
        text = _explanation(exc)
        port = _port_in_use(text, doing)
        if port is not None:
            return port
        if exc.status_code == 409 and "name" in text and "already in use" in text:
            return NameConflict(
                f"{doing}: {text}", "remove that container, or choose another project name"
            )
        return EngineError(f"{doing}: {text}")
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return EngineError(f"{doing}: the Docker engine did not answer in time")
    if isinstance(exc, requests.exceptions.ConnectionError | ConnectionError | FileNotFoundError):
        return unavailable(address, exc, doing)
    if isinstance(exc, docker.errors.DockerException):
        return EngineError(f"{doing}: {_first_line(str(exc))}")
    return exc if isinstance(exc, Exception) else RuntimeError(str(exc))


# --- what faktctl asks the engine to create ---------------------------------------------------


@dataclass(frozen=True)
class ContainerConfig:
    """Everything needed to create one container; secrets stay SecretStr until the SDK call."""

    name: str
    image: str
    command: tuple[str, ...] | None
    env: tuple[tuple[str, str | SecretStr], ...]
    labels: Mapping[str, str]
    mounts: tuple[Mount, ...] = ()
    ports: tuple[Publish, ...] = ()
    restart: str = "no"
    healthcheck: Healthcheck | None = None
    stop_timeout_s: int | None = None
    memory_bytes: int | None = None
    cpus: float | None = None
    network: str | None = None
    aliases: tuple[str, ...] = ()


def extra_labels(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Labels from FAKTCTL_EXTRA_LABELS (`k=v,k2=v2`), added to everything faktctl creates."""
    text = (os.environ if environ is None else environ).get(EXTRA_LABELS_VAR, "")
    result: dict[str, str] = {}
    for item in text.split(","):
        key, sep, value = item.strip().partition("=")
        if not item.strip():
            continue
        if not sep or not key.strip():
            raise OperationFailed(
                f"{EXTRA_LABELS_VAR} entry `{item.strip()}` is not key=value",
                f"use e.g. {EXTRA_LABELS_VAR}=team=payments,env=prod",
            )
        result[key.strip()] = value.strip()
    return result


def _reveal(value: str | SecretStr) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def _mount_body(mount: Mount) -> docker.types.Mount:
    from docker.types import Mount as EngineMount

    return EngineMount(mount.target, mount.source, type=mount.kind, read_only=mount.read_only)


def _port_bindings(ports: tuple[Publish, ...]) -> dict[int | str, Any]:
    bindings: dict[int | str, Any] = {}
    for port in ports:
        bindings.setdefault(f"{port.container_port}/tcp", []).append(
            {"HostIp": port.host_ip, "HostPort": str(port.host_port)}
        )
    return bindings


def _healthcheck_body(check: Healthcheck) -> RawDict:
    return {
        "test": list(check.test),
        "interval": check.interval_s * _NS,
        "timeout": check.timeout_s * _NS,
        "retries": check.retries,
        "start_period": check.start_period_s * _NS,
    }


def _restart_body(policy: str) -> RawDict:
    return {"Name": "" if policy == "no" else policy, "MaximumRetryCount": 0}


# --- build contexts ---------------------------------------------------------------------------


def _dockerignore(context: Path) -> list[str]:
    try:
        text = (context / ".dockerignore").read_text()
    except FileNotFoundError:
        return []
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def context_digest(context: str, dockerfile: str = "Dockerfile") -> str:
    """sha256 over the files docker would send for this build context (honours .dockerignore).

    It names a build by its inputs, so an unchanged context is never rebuilt and a changed one
    gets a new tag (and therefore a new container).
    """
    from docker.utils.build import exclude_paths

    root = Path(context)
    if not root.is_dir():
        raise OperationFailed(f"build context {context} is not a folder")
    digest = hashlib.sha256(f"dockerfile={dockerfile}\n".encode())
    for relative in sorted(exclude_paths(str(root), _dockerignore(root), dockerfile)):
        path = root / relative
        info = path.lstat()
        digest.update(f"{relative}\0{stat.S_IMODE(info.st_mode):o}\0".encode())
        if stat.S_ISLNK(info.st_mode):
            digest.update(os.readlink(path).encode())
        elif stat.S_ISREG(info.st_mode):
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        digest.update(b"\n")
    return digest.hexdigest()


# --- the engine -------------------------------------------------------------------------------


@dataclass
class Engine:
    """A connected engine. Methods take and return raw engine dicts and ids."""

    client: docker.DockerClient
    address: str
    labels_to_add: dict[str, str] = field(default_factory=dict)

    @property
    def api(self) -> docker.APIClient:
        return self.client.api

    @property
    def is_local(self) -> bool:
        """True when published ports can be reached on 127.0.0.1 from here."""
        if self.address.startswith(("unix://", "npipe://")):
            return True
        return engine_host(self.address) in ("localhost", "127.0.0.1", "::1")

    @contextlib.contextmanager
    def doing(self, what: str) -> Iterator[None]:
        """Translate any engine failure inside the block into a one-line FaktctlError."""
        try:
            yield
        except (OperationFailed, EngineUnavailable):
            raise
        except Exception as exc:
            raise translate(exc, what, self.address) from exc

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()

    def _with_extra(self, labels: Mapping[str, str]) -> dict[str, str]:
        return {**labels, **self.labels_to_add}

    # listing and inspection

    def containers(self, labels: Mapping[str, str], all: bool = True) -> list[RawDict]:
        """Full inspect dicts of the containers carrying every given label (inspected a few
        at a time)."""
        selector = [f"{key}={value}" for key, value in labels.items()]
        with self.doing("listing containers"):
            summaries = self.api.containers(all=all, filters={"label": selector})
        ids = [str(summary["Id"]) for summary in summaries]
        if len(ids) <= 1:
            found = [self._inspect_if_there(i) for i in ids]
        else:
            with ThreadPoolExecutor(max_workers=min(INSPECT_PARALLEL, len(ids))) as pool:
                found = list(pool.map(self._inspect_if_there, ids))
        return [raw for raw in found if raw is not None]

    def _inspect_if_there(self, container_id: str) -> RawDict | None:
        try:
            return self.inspect(container_id)
        except ObjectNotFound:  # removed between list and inspect
            return None

    def summaries(self, labels: Mapping[str, str] | None = None) -> list[RawDict]:
        """One list query: the engine's summary of every container (any state) carrying every
        given label. A summary has the id, names, image and image id, labels, state, status
        text (with the health), published ports and networks."""
        filters: dict[str, list[str]] = {}
        if labels:
            filters["label"] = [f"{key}={value}" for key, value in labels.items()]
        with self.doing("listing containers"):
            return [dict(s) for s in self.api.containers(all=True, filters=filters)]

    def inspect(self, container_id: str) -> RawDict:
        with self.doing(f"inspecting container {container_id[:12]}"):
            return dict(self.api.inspect_container(container_id))

    def network(self, name: str) -> RawDict | None:
        with self.doing(f"looking up network {name}"):
            for candidate in self.api.networks(names=[name]):
                if candidate.get("Name") == name:
                    return dict(candidate)
        return None

    def volume(self, name: str) -> RawDict | None:
        import docker.errors

        with self.doing(f"looking up volume {name}"):
            try:
                return dict(self.api.inspect_volume(name))
            except docker.errors.NotFound:
                return None

    def image(self, reference: str) -> RawDict | None:
        """Inspect dict of a local image, or None when it is not present."""
        import docker.errors

        with self.doing(f"looking up image {reference}"):
            try:
                return dict(self.api.inspect_image(reference))  # type: ignore[no-untyped-call]
            except docker.errors.NotFound:
                return None

    # networks and volumes

    def create_network(self, name: str, labels: Mapping[str, str]) -> str:
        with self.doing(f"creating network {name}"):
            created = self.api.create_network(
                name, driver="bridge", labels=self._with_extra(labels), check_duplicate=True
            )
        return str(created["Id"])

    def remove_network(self, name_or_id: str) -> None:
        """Remove a network. When the engine says it still has endpoints, the error names the
        containers attached, or says that none is (the engine then lost count of them)."""
        try:
            with self.doing(f"removing network {name_or_id}"):
                self.api.remove_network(name_or_id)
        except EngineError as err:
            if "has active endpoints" not in err.message:
                raise
            raise self._still_attached(name_or_id) from err

    def _still_attached(self, name_or_id: str) -> EngineError:
        with self.doing(f"inspecting network {name_or_id}"):
            attached = self.api.inspect_network(name_or_id).get("Containers") or {}
        return still_attached(name_or_id, attached)

    def create_volume(self, name: str, labels: Mapping[str, str]) -> None:
        with self.doing(f"creating volume {name}"):
            self.api.create_volume(name, labels=self._with_extra(labels))

    def remove_volume(self, name: str) -> None:
        with self.doing(f"removing volume {name}"):
            self.api.remove_volume(name)

    # containers

    def create_container(self, config: ContainerConfig) -> str:
        api = self.api
        host_config = api.create_host_config(
            mounts=[_mount_body(m) for m in config.mounts] or None,
            port_bindings=_port_bindings(config.ports) or None,
            restart_policy=_restart_body(config.restart),
            mem_limit=config.memory_bytes,
            nano_cpus=int(config.cpus * _NS) if config.cpus else None,
            network_mode=config.network,
        )
        networking = None
        if config.network is not None:
            endpoint = api.create_endpoint_config(aliases=list(config.aliases) or None)
            # the stub says EndpointConfig; the SDK (and the API) take a name -> endpoint map
            networking = api.create_networking_config({config.network: endpoint})  # type: ignore[arg-type]
        with self.doing(f"creating container {config.name}"):
            created = api.create_container(
                config.image,
                command=list(config.command) if config.command is not None else None,
                name=config.name,
                environment=[f"{name}={_reveal(value)}" for name, value in config.env],
                labels=self._with_extra(config.labels),
                ports=[p.container_port for p in config.ports] or None,
                host_config=host_config,
                networking_config=networking,
                healthcheck=_healthcheck_body(config.healthcheck) if config.healthcheck else None,
                stop_timeout=config.stop_timeout_s,
                detach=True,
            )
        return str(created["Id"])

    def start(self, container_id: str, name: str | None = None) -> None:
        with self.doing(f"starting {name or container_id[:12]}"):
            self.api.start(container_id)

    def stop(self, container_id: str, timeout: int = DEFAULT_STOP_TIMEOUT_S) -> None:
        """Stop gracefully: SIGTERM, then SIGKILL after `timeout` seconds."""
        with self.doing(f"stopping container {container_id[:12]}"):
            self.api.stop(container_id, timeout=timeout)

    def remove(self, container_id: str, force: bool = False) -> None:
        import docker.errors

        with (
            self.doing(f"removing container {container_id[:12]}"),
            contextlib.suppress(docker.errors.NotFound),
        ):
            self.api.remove_container(container_id, force=force)

    def logs(self, container_id: str, tail: int | None = None, timestamps: bool = False) -> bytes:
        """stdout and stderr of a container, interleaved as the engine stored them."""
        with self.doing(f"reading logs of {container_id[:12]}"):
            data = self.api.logs(
                container_id, tail="all" if tail is None else tail, timestamps=timestamps
            )
        return bytes(data)

    def follow_logs(self, container_id: str, tail: int | None = None) -> Iterator[bytes]:
        """Log chunks as they arrive, until the container stops."""
        with self.doing(f"following logs of {container_id[:12]}"):
            stream = self.api.logs(
                container_id, stream=True, follow=True, tail="all" if tail is None else tail
            )
            yield from stream

    def exec(self, container_id: str, cmd: list[str]) -> tuple[int, bytes]:
        """Run a command in a running container; returns its exit code and combined output."""
        with self.doing(f"running {cmd[0]} in {container_id[:12]}"):
            exec_id = self.api.exec_create(container_id, cmd, stdout=True, stderr=True)["Id"]
            output = self.api.exec_start(exec_id)
            code = self.api.exec_inspect(exec_id).get("ExitCode")
        return (int(code) if code is not None else -1), bytes(output)

    def read_file(self, container_id: str, path: str) -> Iterator[bytes]:
        """Stream one regular file out of a container (running or stopped).

        The one way faktctl reads a file from a container: ObjectNotFound when the path is
        missing, a folder, a link or a device (never the first file found inside a folder).
        """
        from faktctl.backups import stream

        _, chunks = self.archive_out(container_id, path)
        with stream.closing_iter(chunks):
            try:
                _, pieces = stream.read_single_file(chunks)
                for piece in pieces:
                    yield bytes(piece)
            except stream.StreamError as err:
                raise ObjectNotFound(f"{path} in {container_id[:12]}: {err}") from None

    def wait(self, container_id: str, timeout: float) -> int:
        """Wait until a container exits; returns its exit code."""
        with self.doing(f"waiting for {container_id[:12]}"):
            result = self.api.wait(container_id, timeout=int(timeout))
        return int(result.get("StatusCode", -1))

    # images

    def pull(self, reference: str, on_progress: ProgressLine | None = None) -> None:
        repository, tag = split_reference(reference)
        with (
            self.doing(f"pulling {reference}"),
            self._image_failure(f"cannot pull image {reference}", ImageUnavailable),
        ):
            for event in self.api.pull(repository, tag=tag, stream=True, decode=True):
                if "error" in event:
                    raise ImageUnavailable(
                        f"cannot pull image {reference}: {_first_line(str(event['error']))}"
                    )
                if on_progress is not None and event.get("status"):
                    on_progress(f"{event['status']} {event.get('progress', '')}".strip())

    def build(
        self,
        context: str,
        dockerfile: str,
        tags: list[str],
        labels: Mapping[str, str],
        on_progress: ProgressLine | None = None,
    ) -> str:
        """Build an image from a context folder and give it every tag; returns the image id."""
        image_id = ""
        failure = f"building image {tags[0]} from {context} failed"
        with self.doing(f"building {tags[0]}"), self._image_failure(failure, BuildFailed):
            stream = self.api.build(
                path=context,
                dockerfile=dockerfile,
                tag=tags[0],
                labels=self._with_extra(labels),
                rm=True,
                forcerm=True,
                pull=False,
                decode=True,
            )
            for event in stream:
                if "error" in event:
                    raise BuildFailed(
                        f"building image {tags[0]} from {context} failed: "
                        f"{_first_line(str(event['error']))}"
                    )
                line = str(event.get("stream", "")).strip()
                if line and on_progress is not None:
                    on_progress(line)
                image_id = str(event.get("aux", {}).get("ID", image_id))
            for extra in tags[1:]:
                self.tag(tags[0], extra)
        return image_id

    @contextlib.contextmanager
    def _image_failure(self, what: str, kind: type[OperationFailed]) -> Iterator[None]:
        """An engine refusal during a pull or build names the image and the engine's reason."""
        import docker.errors

        try:
            yield
        except docker.errors.APIError as exc:
            raise kind(f"{what}: {_explanation(exc)}") from exc

    def images(self, labels: Mapping[str, str]) -> list[RawDict]:
        """Summaries (Id, RepoTags, Created) of the local images carrying every given label."""
        selector = [f"{key}={value}" for key, value in labels.items()]
        with self.doing("listing images"):
            return [dict(found) for found in self.api.images(filters={"label": selector})]

    def untag(self, reference: str) -> bool:
        """Remove one tag (the image too when it was its last tag and nothing uses it).

        False when the engine refuses because a container still uses the image."""
        import docker.errors

        with self.doing(f"removing image tag {reference}"):
            try:
                self.api.remove_image(reference, force=False, noprune=False)
            except docker.errors.NotFound:
                return True
            except docker.errors.APIError as exc:
                if exc.status_code == 409:
                    return False
                raise
        return True

    def tag(self, source: str, reference: str) -> None:
        repository, tag = split_reference(reference)
        with self.doing(f"tagging {source} as {reference}"):
            self.api.tag(source, repository, tag=tag)

    # --- backup/restore primitives ---

    def stat_path(self, container_id: str, path: str) -> RawDict:
        """The engine's stat of a path in a container (name, size, mode, mtime, linkTarget).

        One HEAD request on the archive endpoint: no exec, no stat binary in the image.
        """
        from urllib.parse import quote

        import requests.exceptions
        from docker.errors import create_api_error_from_http_exception
        from docker.utils import decode_json_header

        base = f"{self.api.base_url}/v{self.api.api_version}"
        url = f"{base}/containers/{quote(container_id, safe='')}/archive"
        with self.doing(f"looking at {path} in {container_id[:12]}"):
            response = self.api.head(url, params={"path": path})
            try:
                response.raise_for_status()
            except requests.exceptions.HTTPError as err:
                create_api_error_from_http_exception(err)  # raises NotFound, APIError, …
            encoded = response.headers.get("x-docker-container-path-stat")
            return dict(decode_json_header(encoded)) if encoded else {}

    def archive_out(
        self, container_id: str, path: str, chunk_size: int = 4 << 20
    ) -> tuple[RawDict, Iterator[bytes]]:
        """`path` of a container (running or stopped) as a raw tar stream, unbuffered.

        Returns the engine's stat of the path (name, size, mode, mtime) and the stream;
        close the iterator to drop the connection early.
        """
        doing = f"copying {path} out of {container_id[:12]}"
        with self.doing(doing):
            chunks, stat_info = self.api.get_archive(container_id, path, chunk_size=chunk_size)
        return dict(stat_info or {}), self._translated(chunks, doing)

    def _translated(self, chunks: Iterator[bytes], doing: str) -> Iterator[bytes]:
        try:
            with self.doing(doing):
                yield from chunks
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def archive_in(self, container_id: str, folder: str, tar_stream: Iterable[bytes]) -> None:
        """Extract a tar stream into `folder` of a container, sent as it is produced."""
        with self.doing(f"copying into {folder} of {container_id[:12]}"):
            if not self.api.put_archive(container_id, folder, tar_stream):
                raise EngineError(f"copying into {folder} of {container_id[:12]}: refused")

    def secret_file_in(
        self, container_id: str, path: str, secret: SecretStr, mode: int = 0o444
    ) -> None:
        """A one-line file holding `secret` at `path` (absolute) in a container, with the
        folders leading to it; the value leaves faktctl here, for the engine."""
        from faktctl.backups.stream import tar_single_file

        data = secret.get_secret_value().encode() + b"\n"
        parts = path.strip("/").split("/")
        folders = tuple("/".join(parts[:end]) for end in range(1, len(parts)))
        name = "/".join(parts)
        self.archive_in(container_id, "/", tar_single_file(name, len(data), [data], mode, folders))


def split_reference(reference: str) -> tuple[str, str]:
    """`repo:tag` -> (repo, tag); a registry port is not a tag; digests keep their `@`."""
    if "@" in reference:
        return reference, ""
    repository, sep, tag = reference.rpartition(":")
    if not sep or "/" in tag:
        return reference, "latest"
    return repository, tag


def still_attached(name_or_id: str, attached: Mapping[str, Any]) -> EngineError:
    """Why a network with "active endpoints" cannot go, from its inspected `Containers`: the
    containers still attached, or none (the engine lost count of its endpoints)."""
    names = sorted(str(c.get("Name") or cid[:12]) for cid, c in attached.items())
    if names:
        return EngineError(
            f"removing network {name_or_id}: still attached: {', '.join(names)}",
            "disconnect or remove those containers, then run the command again",
        )
    return EngineError(
        f"removing network {name_or_id}: the Docker engine still counts endpoints on it "
        "though no container is attached (an engine fault seen after many containers "
        "stopped at once)",
        "restart the Docker engine, then run `faktctl down` again; the data volume is untouched",
    )


def connect(timeout: int = API_TIMEOUT_S) -> Engine:
    """Connect to the engine (DOCKER_HOST, else the active docker context, else the socket)."""
    import docker

    address = engine_address()
    # `logs -f` on many replicas holds more streams than the pool keeps; the extra connections
    # are closed when done, which urllib3 would report as a warning on stderr
    import logging

    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    try:
        client = docker.from_env(timeout=timeout, max_pool_size=CONNECTIONS)
    except Exception as exc:  # DockerException, requests and socket errors alike
        raise unavailable(address, exc) from exc
    return Engine(client=client, address=address, labels_to_add=extra_labels())
