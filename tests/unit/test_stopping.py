"""BulkStop's bookkeeping (faktctl.stopping) against a fake engine: who gets which signal, when
SIGKILL comes, what is removed and what is reported. The real engine's side is proven in
tests/e2e/test_down_scale.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from faktctl import stopping
from faktctl.adapters.docker_engine import EngineError, ObjectNotFound
from faktctl.planner import ContainerRef
from faktctl.stopping import BulkStop

SELECTOR = {"io.faktctl.project": "shop"}


@dataclass
class FakeContainer:
    id: str
    state: str = "running"
    image: str = "sha256:worker"
    exits_on: frozenset[str] = frozenset({"SIGTERM"})  # signals it exits on (SIGKILL always)
    refuse_removal: bool = False


@dataclass
class FakeEngine:
    containers: dict[str, FakeContainer]
    stop_signals: Mapping[str, str] = field(default_factory=dict)
    calls: list[tuple[str, str, str | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _log(self, what: str, container_id: str, extra: str | None = None) -> None:
        with self.lock:
            self.calls.append((what, container_id, extra))

    def summaries(
        self, labels: Mapping[str, str] | None = None, ids: Iterable[str] = ()
    ) -> list[dict[str, Any]]:
        assert labels == SELECTOR
        return [
            {"Id": c.id, "State": c.state, "ImageID": c.image} for c in self.containers.values()
        ]

    def image(self, reference: str) -> dict[str, Any] | None:
        if reference not in self.stop_signals:
            return {"Id": reference, "Config": {}}
        return {"Id": reference, "Config": {"StopSignal": self.stop_signals[reference]}}

    def kill(self, container_id: str, signal: str | None = None) -> bool:
        self._log("kill", container_id, signal)
        container = self.containers[container_id]
        if container.state != "running":
            return False
        if signal is None or signal in container.exits_on:
            container.state = "exited"
        return True

    def stop(self, container_id: str, timeout: int = 10) -> None:
        self._log("stop", container_id, str(timeout))
        self.containers[container_id].state = "exited"

    def remove(self, container_id: str, force: bool = False) -> None:
        self._log("remove", container_id)
        container = self.containers[container_id]
        if container.refuse_removal:
            raise EngineError(f"removing container {container_id}: refused")
        if container.state == "running":
            raise EngineError(f"removing container {container_id}: it is running")
        del self.containers[container_id]


class Recorder:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def update(self, target: str, message: str) -> None:
        self.lines.append(f"  {target}: {message}")

    def finish(self, target: str, message: str, ok: bool = True) -> None:
        self.lines.append(f"{'ok' if ok else 'FAILED'} {target}: {message}")


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stopping, "POLL_S", 0.01)
    monkeypatch.setattr(stopping, "KILL_WAIT_S", 0.5)


def refs(*ids: str, grace: int = 0) -> list[tuple[str, ContainerRef]]:
    return [("w", ContainerRef(i, f"shop-w-{i}", n + 1, grace)) for n, i in enumerate(ids)]


def run(engine: FakeEngine, work: list[tuple[str, ContainerRef]]) -> tuple[list[Any], Recorder]:
    recorder = Recorder()
    problems = BulkStop(engine, recorder, SELECTOR, parallel=4).run(work)  # type: ignore[arg-type]
    return problems, recorder


def test_each_container_gets_its_stop_signal_and_is_removed() -> None:
    engine = FakeEngine(
        {
            "a": FakeContainer("a"),
            "b": FakeContainer("b", image="sha256:quits", exits_on=frozenset({"SIGQUIT"})),
        },
        stop_signals={"sha256:quits": "SIGQUIT"},
    )
    problems, recorder = run(engine, refs("a", "b", grace=30))
    assert problems == [] and engine.containers == {}
    kills = {(cid, signal) for what, cid, signal in engine.calls if what == "kill"}
    assert kills == {("a", "SIGTERM"), ("b", "SIGQUIT")}
    assert "ok w: removed shop-w-a" in recorder.lines
    assert "  w: stopping 2 containers (up to 30s)" in recorder.lines


def test_containers_ignoring_the_signal_get_sigkill_once_their_grace_has_passed() -> None:
    ids = [f"c{n}" for n in range(12)]
    engine = FakeEngine({i: FakeContainer(i, exits_on=frozenset()) for i in ids})
    started = time.monotonic()
    problems, _ = run(engine, refs(*ids, grace=1))
    elapsed = time.monotonic() - started
    assert problems == [] and engine.containers == {}
    # 12 containers, 4 requests at a time, 1 s grace each: one grace period, not three
    assert 1.0 <= elapsed < 2.0
    sigkills = [cid for what, cid, signal in engine.calls if what == "kill" and signal is None]
    assert sorted(sigkills) == sorted(ids)


def test_exited_and_vanished_containers_are_only_removed_or_reported() -> None:
    engine = FakeEngine({"done": FakeContainer("done", state="exited")})
    problems, recorder = run(engine, refs("done", "gone"))
    assert problems == []
    assert [c for c in engine.calls if c[0] == "kill"] == []
    assert "ok w: removed shop-w-gone (it was already gone)" in recorder.lines


def test_a_failed_removal_is_reported_and_the_others_go_on() -> None:
    engine = FakeEngine({"a": FakeContainer("a", refuse_removal=True), "b": FakeContainer("b")})
    problems, recorder = run(engine, refs("a", "b"))
    assert [(p.target, p.message) for p in problems] == [("w", "removing container a: refused")]
    assert list(engine.containers) == ["a"]
    assert "FAILED w: removing container a: refused" in recorder.lines


def test_a_container_whose_image_is_unknown_is_stopped_the_engine_s_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = FakeEngine({"a": FakeContainer("a")})

    def no_image(reference: str) -> None:
        raise ObjectNotFound(f"no such image {reference}")

    monkeypatch.setattr(engine, "image", no_image)
    problems, _ = run(engine, refs("a", grace=7))
    assert problems == [] and engine.containers == {}
    assert ("stop", "a", "7") in engine.calls
