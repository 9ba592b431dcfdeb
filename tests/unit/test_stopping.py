"""BulkStop's scheduling (faktctl.platforms.engine.stop) against a fake engine: how many stops run
at once,
that containers waiting out their grace period do not hold the others back, what is removed
and what is reported. The real engine's side is proven in tests/e2e/test_down_scale.py."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pytest

from faktctl.adapters.docker.api import EngineError, ObjectNotFound
from faktctl.platforms.engine import stop as stopping
from faktctl.platforms.engine.plan import ContainerRef
from faktctl.platforms.engine.stop import BulkStop


@dataclass
class FakeEngine:
    slow: frozenset[str] = frozenset()  # containers that wait out their whole grace period
    fast_s: float = 0.01
    refuse: frozenset[str] = frozenset()
    vanished: frozenset[str] = frozenset()
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping_now: int = 0
    most_at_once: int = 0
    calls: list[tuple[str, str, int | None]] = field(default_factory=list)

    def stop(self, container_id: str, timeout: int = 10) -> None:
        with self.lock:
            self.calls.append(("stop", container_id, timeout))
            self.stopping_now += 1
            self.most_at_once = max(self.most_at_once, self.stopping_now)
        if container_id in self.vanished:
            raise ObjectNotFound(f"no such container {container_id}")
        time.sleep(timeout if container_id in self.slow else self.fast_s)
        with self.lock:
            self.stopping_now -= 1

    def remove(self, container_id: str, force: bool = False) -> None:
        with self.lock:
            self.calls.append(("remove", container_id, None))
        if container_id in self.refuse:
            raise EngineError(f"removing container {container_id}: refused")


class Recorder:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.lock = threading.Lock()

    def update(self, target: str, message: str) -> None:
        with self.lock:
            self.lines.append(f"  {target}: {message}")

    def finish(self, target: str, message: str, ok: bool = True) -> None:
        with self.lock:
            self.lines.append(f"{'ok' if ok else 'FAILED'} {target}: {message}")


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stopping, "SLOW_S", 0.1)
    monkeypatch.setattr(stopping, "POLL_S", 0.005)


def refs(*ids: str, grace: int = 0) -> list[tuple[str, ContainerRef]]:
    return [("w", ContainerRef(i, f"shop-w-{i}", n + 1, grace)) for n, i in enumerate(ids)]


def run(engine: FakeEngine, work: list[tuple[str, ContainerRef]]) -> tuple[list[object], Recorder]:
    recorder = Recorder()
    problems = BulkStop(engine, recorder, parallel=4).run(work)
    return list(problems), recorder


def test_every_container_is_stopped_with_its_grace_period_then_removed() -> None:
    engine = FakeEngine()
    ids = [f"c{n}" for n in range(10)]
    problems, recorder = run(engine, refs(*ids, grace=0))
    assert problems == []
    assert {c[1] for c in engine.calls if c[0] == "remove"} == set(ids)
    for container in ids:  # each removal comes after its own stop
        order = [what for what, cid, _ in engine.calls if cid == container]
        assert order == ["stop", "remove"]
    assert engine.most_at_once <= 4
    assert "  w: stopping 10 containers (up to 0s each)" in recorder.lines
    assert "ok w: removed shop-w-c3" in recorder.lines


def test_containers_waiting_out_their_grace_period_do_not_hold_the_others_back() -> None:
    ids = [f"c{n}" for n in range(12)]
    engine = FakeEngine(slow=frozenset(ids))
    started = time.monotonic()
    problems, _ = run(engine, refs(*ids, grace=1))
    elapsed = time.monotonic() - started
    assert problems == []
    # 12 stops of 1 s each, 4 places: in batches that would be 3 s; here the places free up
    # after SLOW_S, so all are signalled within ~0.3 s and the whole takes one grace period
    assert 1.0 <= elapsed < 1.8, elapsed
    assert engine.most_at_once == 12


def test_a_failed_removal_is_reported_and_a_vanished_container_is_not() -> None:
    engine = FakeEngine(refuse=frozenset({"a"}), vanished=frozenset({"gone"}))
    problems, recorder = run(engine, refs("a", "b", "gone"))
    assert [(p.target, p.message) for p in problems] == [  # type: ignore[attr-defined]
        ("w", "removing container a: refused")
    ]
    assert "FAILED w: removing container a: refused" in recorder.lines
    assert "ok w: removed shop-w-gone (it was already gone)" in recorder.lines
    assert "ok w: removed shop-w-b" in recorder.lines
