"""The docker SDK side of the engine adapter: the only faktctl module that imports the SDK.

`Engine` is the engine client (faktctl.adapters.docker.client) over the SDK's own session,
which reaches the engine however the docker CLI would (ssh://, TLS, a docker context), plus
what only `up`, backup, restore and Swarm need: creating containers, networks and volumes,
images (pull, build, tag), logs and the archive streams. faktctl.adapters.docker.connect
connects it. The SDK is imported inside the functions that need it, so importing this module
stays cheap.

Extra labels: when FAKTCTL_EXTRA_LABELS is set (`key=value,key2=value2`), every container,
network, volume and image this adapter creates carries those labels too. The end-to-end tests
use it to tag what they create with `io.faktctl.test=<session>`; the labels never take part in
the config hash, so setting them does not make faktctl recreate anything.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faktctl.adapters.docker import archive
from faktctl.adapters.docker.api import (
    API_TIMEOUT_S,
    BuildFailed,
    EngineError,
    ImageUnavailable,
    ObjectNotFound,
    RawDict,
    Reply,
    first_line,
    no_answer,
    refusal,
    unavailable,
)
from faktctl.adapters.docker.client import EngineClient
from faktctl.desired import Healthcheck, Mount, Publish
from faktctl.errors import EngineUnavailable, OperationFailed
from faktctl.secretvalue import SecretStr

if TYPE_CHECKING:
    import docker

EXTRA_LABELS_VAR = "FAKTCTL_EXTRA_LABELS"
_NS = 1_000_000_000

ProgressLine = Callable[[str], None]


def _explanation(exc: BaseException) -> str:
    explanation = getattr(exc, "explanation", None)
    return first_line(str(explanation if explanation else exc))


def translate(exc: BaseException, doing: str, address: str) -> Exception:
    """Map an SDK, requests or socket exception to a one-line FaktctlError."""
    import docker.errors
    import requests.exceptions

    if isinstance(exc, docker.errors.ImageNotFound):
        return ImageUnavailable(f"{doing}: {_explanation(exc)}")
    if isinstance(exc, docker.errors.APIError):
        return refusal(exc.status_code, _explanation(exc), doing)
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return no_answer(doing)
    if isinstance(exc, requests.exceptions.ConnectionError | ConnectionError | FileNotFoundError):
        return unavailable(address, exc, doing)
    if isinstance(exc, docker.errors.DockerException):
        return EngineError(f"{doing}: {first_line(str(exc))}")
    return exc if isinstance(exc, Exception) else RuntimeError(str(exc))


class SessionTransport:
    """The engine transport over the docker SDK's session (a requests session that knows how
    to reach the engine: unix socket, ssh, TLS)."""

    def __init__(self, api: docker.APIClient, address: str) -> None:
        self._api = api
        self._address = address

    @property
    def address(self) -> str:
        return self._address

    def close(self) -> None:
        """The session belongs to the SDK client, which closes it."""

    def request(
        self, method: str, path: str, body: Any = None, *, doing: str, wait_s: float = 0
    ) -> Reply:
        url = f"{self._api.base_url}/v{self._api.api_version}{path}"
        data = None if body is None else json.dumps(body).encode()
        headers = {} if body is None else {"Content-Type": "application/json"}
        timeout = (self._api.timeout or API_TIMEOUT_S) + wait_s
        try:
            response = self._api.request(method, url, data=data, headers=headers, timeout=timeout)
        except Exception as exc:  # requests, urllib3 and socket errors alike
            raise translate(exc, doing, self._address) from exc
        return Reply(
            response.status_code,
            response.reason or "",
            {name.lower(): value for name, value in response.headers.items()},
            response.content,
        )


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
    stop_signal: str | None = None


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


class Engine(EngineClient):
    """A connected engine: the engine client over the SDK's session, and what only the SDK
    does. Methods take and return raw engine dicts and ids."""

    def __init__(
        self,
        client: docker.DockerClient,
        address: str,
        labels_to_add: Mapping[str, str] | None = None,
    ) -> None:
        self.client = client
        self.labels_to_add = dict(labels_to_add or {})
        super().__init__(SessionTransport(client.api, address))

    @property
    def api(self) -> docker.APIClient:
        return self.client.api

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

    # networks and volumes

    def create_network(self, name: str, labels: Mapping[str, str]) -> str:
        with self.doing(f"creating network {name}"):
            created = self.api.create_network(
                name, driver="bridge", labels=self._with_extra(labels), check_duplicate=True
            )
        return str(created["Id"])

    def create_volume(self, name: str, labels: Mapping[str, str]) -> None:
        with self.doing(f"creating volume {name}"):
            self.api.create_volume(name, labels=self._with_extra(labels))

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
                stop_signal=config.stop_signal,
                detach=True,
            )
        return str(created["Id"])

    def start(self, container_id: str, name: str | None = None) -> None:
        with self.doing(f"starting {name or container_id[:12]}"):
            self.api.start(container_id)

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

    def read_file(self, container_id: str, path: str) -> Iterator[bytes]:
        """Stream one regular file out of a container (running or stopped).

        The one way faktctl reads a file from a container: ObjectNotFound when the path is
        missing, a folder, a link or a device (never the first file found inside a folder).
        """
        _, chunks = self.archive_out(container_id, path)
        with archive.closing_iter(chunks):
            try:
                _, pieces = archive.read_single_file(chunks)
                for piece in pieces:
                    yield bytes(piece)
            except archive.StreamError as err:
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
                        f"cannot pull image {reference}: {first_line(str(event['error']))}"
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
                        f"{first_line(str(event['error']))}"
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

    # --- archives ---

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
        data = secret.get_secret_value().encode() + b"\n"
        parts = path.strip("/").split("/")
        folders = tuple("/".join(parts[:end]) for end in range(1, len(parts)))
        name = "/".join(parts)
        self.archive_in(
            container_id, "/", archive.tar_single_file(name, len(data), [data], mode, folders)
        )


def split_reference(reference: str) -> tuple[str, str]:
    """`repo:tag` -> (repo, tag); a registry port is not a tag; digests keep their `@`."""
    if "@" in reference:
        return reference, ""
    repository, sep, tag = reference.rpartition(":")
    if not sep or "/" in tag:
        return reference, "latest"
    return repository, tag
