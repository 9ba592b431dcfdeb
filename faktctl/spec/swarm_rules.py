"""Which spec keys apply to which platform: a key that does nothing there is an error."""

from __future__ import annotations

from typing import TYPE_CHECKING

from faktctl.spec.swarm import _rule

if TYPE_CHECKING:
    from faktctl.spec.model import Spec


def check_platform(spec: Spec) -> None:
    if spec.platform == "engine":
        if spec.swarm is not None:
            raise _rule(
                "the swarm section applies only to `platform: swarm`",
                "swarm",
                "add `platform: swarm` or remove the section",
            )
        return
    if spec.swarm is None:
        raise _rule(
            "`platform: swarm` needs a swarm section with server_node",
            "platform",
            "add `swarm: {server_node: {hostname: NODE}}`",
        )
    _check_swarm_irrelevant(spec)
    names = {worker.name for worker in spec.workers}
    for name in spec.swarm.workers:
        if name not in names:
            raise _rule(
                f"`{name}` is not a worker of this spec",
                f"swarm.workers.{name}",
                f"workers: {', '.join(sorted(names)) or 'none'}",
            )


def _check_swarm_irrelevant(spec: Spec) -> None:
    if "ports" in spec.server.model_fields_set:
        raise _rule(
            "server.ports does not apply to `platform: swarm`",
            "server.ports",
            "nothing is published on a swarm; use swarm.publish_protocol for 7419 and "
            "`faktctl dashboard` for the dashboard",
        )
    if "dashboard_exposure" in spec.server.model_fields_set:
        raise _rule(
            "server.dashboard_exposure does not apply to `platform: swarm`",
            "server.dashboard_exposure",
            "the dashboard is never published on a swarm; use `faktctl dashboard`",
        )
    for index, worker in enumerate(spec.workers):
        if "restart" in worker.model_fields_set:
            raise _rule(
                "workers[].restart does not apply to `platform: swarm`",
                f"workers[{index}].restart",
                "swarm restarts a worker task whenever it exits (restart condition any)",
            )
