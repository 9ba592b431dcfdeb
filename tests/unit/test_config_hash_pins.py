"""The config fingerprint and labels faktctl stores on what it runs, pinned to fixed values.

A running container or swarm service is recreated when its stored `config-hash` differs from the
one computed now, so any change to how the hash is computed recreates every deployment on the
next `up`. These values were computed before the fingerprint became one function; a refactor
that changes one of them changes what users' engines hold.

Changed on purpose once (issue 23): workers gained a default stop grace period of 30s (it was
Docker's 10s, which kills jobs the libraries would still finish), so every worker's hash moved
and the next `up` rolls each worker once, through the quiet-first rollout. The server's hashes
and a worker's with the default stop signal are unchanged by the new fields.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from faktctl import labels
from faktctl.desired import Desired, Secrets, build_desired
from faktctl.platforms.engine.apply import container_config
from faktctl.platforms.swarm.plan import ImageEntry, SwarmDesired, translate
from faktctl.secretvalue import SecretStr
from faktctl.spec.load import parse_spec
from tests.support.planning import SWARM_ENTRIES, SWARM_SPEC

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PASSWORD = "pin-password"

# (example, service) -> (config-hash, config-parts), for replica 1 of each service.
ENGINE_PINS: dict[tuple[str, str], tuple[str, str]] = {
    ("minimal", "faktory"): (
        "83bb91c5ad21245b04319c3424f40e07e22c085b0b5215dc0ab9da881a8f13a7",
        '{"command":"0f5fbc3b9fe4","depends":"4f53cda18c2b","env":{"names":["FAKTORY_ENV",'
        '"FAKTORY_PASSWORD"],"values":"06150838d056"},"healthcheck":"9804035a7ec7",'
        '"image":"contribsys/faktory:1.10.0","limits":"ae8b65a80991","mounts":"13d23d88bee0",'
        '"ports":"2be57c4ab0f1","restart":"unless-stopped","secrets":"f87e1c549a76",'
        '"stop_grace":60}',
    ),
    ("polyglot", "faktory"): (
        "9899b83efd7de49e163d74a4565ed9b7787855dba0c7a3afc2752d3de61967ea",
        '{"command":"0f5fbc3b9fe4","depends":"4f53cda18c2b","env":{"names":["FAKTORY_ENV",'
        '"FAKTORY_PASSWORD"],"values":"06150838d056"},"healthcheck":"9804035a7ec7",'
        '"image":"contribsys/faktory:1.10.0","limits":"a0c5fe7c099e","mounts":"8d8bcb869310",'
        '"ports":"2be57c4ab0f1","restart":"unless-stopped","secrets":"0ae4d25a13d4",'
        '"stop_grace":90}',
    ),
    ("polyglot", "go-worker"): (
        "98daf28567f9894b855d61c3b354cbf942f33fe070127c90f05e075bed274346",
        '{"command":"74234e98afe7","depends":"15d78def430b","env":{"names":["FAKTORY_URL",'
        '"FAKTORY_QUEUES","WORKER_CONCURRENCY"],"values":"c88b016e9bd4"},'
        '"healthcheck":"74234e98afe7","image":"polyglot-go-worker:local",'
        '"limits":"61650bc02b98","mounts":"4f53cda18c2b","ports":"4f53cda18c2b",'
        '"restart":"unless-stopped","stop_grace":30}',
    ),
    ("polyglot", "python-worker"): (
        "b95ebad5fe89a86c466cc199469d2b057996587e2b12b6df1ca17d9225b3da5d",
        '{"command":"74234e98afe7","depends":"15d78def430b","env":{"names":["FAKTORY_URL",'
        '"FAKTORY_QUEUES"],"values":"e8167d10b6fb"},"healthcheck":"74234e98afe7",'
        '"image":"polyglot-python-worker:local","limits":"1b4e61a53d85",'
        '"mounts":"4f53cda18c2b","ports":"4f53cda18c2b","restart":"unless-stopped",'
        '"stop_grace":30}',
    ),
}

# `platform: swarm` needs a server node; polyglot publishes ports, which a swarm refuses, so
# the swarm pins are the minimal example and the swarm spec of the planner tests.
SWARM_SECTION = "platform: swarm\nswarm:\n  server_node: {hostname: node-1}\n"
SWARM_PINS: dict[str, str] = {
    "minimal_faktory": "2bc31393a161f41a94de488ff722859b701fe73ed988472f40297ba21bc9a66b",
    "shop_faktory": "ea00392fbbed8dd8a5b3d6c4fdcd46cfa0b824abb3f405dbab8521a837c65818",
    "shop_emails": "2f15074f8a126dade12873a48469079ba153e0a5910077723b4b88fc9823dafa",
    "shop_reports": "61e46c9394fd04646c582c7ca19168e163e930cd92e9ff88cf062625e3574df1",
}


def _example_text(name: str) -> str:
    return (EXAMPLES / name / "faktory.yaml").read_text()


def _desired(name: str, text: str) -> Desired:
    # a fixed folder: host paths are part of the hash, the checkout's location must not be
    loaded = parse_spec(text, Path("/srv/examples") / name / "faktory.yaml")
    return build_desired(loaded, Secrets(SecretStr(PASSWORD)))


def _swarm(name: str, text: str, entries: dict[str, ImageEntry]) -> SwarmDesired:
    loaded = parse_spec(text, Path("/srv/examples") / name / "faktory.yaml")
    desired = build_desired(loaded, Secrets(SecretStr(PASSWORD)))
    return translate(desired, SecretStr(PASSWORD), None, entries)


def test_every_example_is_pinned() -> None:
    examples = {path.parent.name for path in EXAMPLES.glob("*/faktory.yaml")}
    assert examples == {example for example, _ in ENGINE_PINS}


@pytest.mark.parametrize(("example", "service"), sorted(ENGINE_PINS))
def test_engine_container_labels_keep_their_values(example: str, service: str) -> None:
    desired = _desired(example, _example_text(example))
    request = desired.service(service)
    config_hash, parts = ENGINE_PINS[(example, service)]
    assert request.config_hash() == config_hash
    assert container_config(desired, request, 1).labels == {
        labels.MANAGED: "true",
        labels.PROJECT: example,
        labels.SERVICE: service,
        labels.ROLE: request.role,
        labels.CONFIG_HASH: config_hash,
        labels.REPLICA: "1",
        labels.CONFIG_PARTS: parts,
    }
    assert json.loads(parts)["image"] == request.image
    assert desired.object_labels() == {labels.MANAGED: "true", labels.PROJECT: example}


def _all_swarm_services() -> SwarmDesired:
    minimal = _swarm("minimal", _example_text("minimal") + SWARM_SECTION, {})
    shop = _swarm("shop", SWARM_SPEC, SWARM_ENTRIES)
    return SwarmDesired("pins", "pins", False, (), minimal.services + shop.services, None)


@pytest.mark.parametrize("name", sorted(SWARM_PINS))
def test_swarm_service_labels_keep_their_values(name: str) -> None:
    service = next(s for s in _all_swarm_services().services if s.name == name)
    project = name.split("_")[0]
    ownership = {
        labels.MANAGED: "true",
        labels.PROJECT: project,
        labels.SERVICE: service.service,
        labels.ROLE: service.role,
    }
    assert service.config_hash() == SWARM_PINS[name]
    assert service.labels(project) == {**ownership, labels.CONFIG_HASH: SWARM_PINS[name]}
    assert service.container_labels(project) == ownership
