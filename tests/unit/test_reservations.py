"""Issue 23 section 3, the pure part: the /busy page's process table, the `working` set's
reservations, which of them are orphaned, and how a rescue is batched."""

from __future__ import annotations

import json

import pytest

from faktctl.faktory import reservations as res

ROW = """
      <tr>
        <td>
          <code>
            {wid}
          </code>
        </td>
        <td>
          <code>{host}:{pid}</code>
            <span class="badge bg-primary">golang</span>
          {quiet}
        </td>
        <td><time>3 minutes ago</time></td>
        <td>2</td>
        <td>12 MB</td>
        <td>{busy}</td>
        <td><form method="POST"><input type="hidden" name="wid" value="{wid}"/>
          <button class="btn btn-primary btn-sm" type="submit" name="signal" value="quiet">Quiet
          </button></form></td>
      </tr>"""
PAGE = """<html><body><div class="table-responsive">
  <table class="processes table table-hover table-bordered table-striped table-light">
    <thead><th>ID</th><th>Name</th><th>Started</th><th>Connections</th><th>RSS</th>
    <th>Busy</th><th>&nbsp;</th></thead>{rows}
  </table></div>
  <table class="workers table"><thead><th>Process</th></thead>
  <tr><td><code>zzz</code></td><td>jid</td><td>q</td><td>J</td><td>a</td><td>now</td></tr>
  </table></body></html>"""


def _member(jid: str, wid: str, queue: str = "default", custom: object = None) -> str:
    job: dict[str, object] = {"jid": jid, "queue": queue, "jobtype": "Slow", "args": [1, {}, []]}
    if custom is not None:
        job["custom"] = custom
    return json.dumps(
        {
            "job": job,
            "reserved_at": "2026-12-06T20:00:00.123456789Z",
            "expires_at": "2026-12-06T20:30:00.123456789Z",
            "wid": wid,
        },
        separators=(",", ":"),
    )


def test_parse_busy_reads_every_process_row() -> None:
    rows = ROW.format(wid="abc123", host="f00dcafe", pid=1, busy=3, quiet="")
    rows += ROW.format(
        wid="def&lt;4",
        host="ip-10-0-0-1:extra",
        pid=77,
        busy=0,
        quiet='<span class="badge bg-danger">quiet</span>',
    )
    found = res.parse_busy(PAGE.format(rows=rows))
    assert found == (
        res.Process("abc123", "f00dcafe", 1, 3, False),
        res.Process("def<4", "ip-10-0-0-1:extra", 77, 0, True),
    )


def test_parse_busy_with_no_process_and_not_a_busy_page() -> None:
    assert res.parse_busy(PAGE.format(rows="")) == ()
    with pytest.raises(res.Unreadable):
        res.parse_busy("<html><body>Unauthorized</body></html>")


def test_parse_working_keeps_the_job_byte_for_byte() -> None:
    tricky = {"x": ',"reserved_at":"', "reserved_at": "nested"}
    member = _member("j1", "w1", "critical", custom=tricky)
    working = res.parse_working(["1796587200", "500000", member, "1796589000.123"])
    assert working.now == 1796587200.5
    (r,) = working.reservations
    assert (r.jid, r.wid, r.queue, r.jobtype, r.expires_at) == (
        "j1",
        "w1",
        "critical",
        "Slow",
        1796589000.123,
    )
    assert r.job == member[len('{"job":') : member.rindex(',"reserved_at":"')]
    assert json.loads(r.job)["args"] == [1, {}, []]
    assert r.reserved_at == pytest.approx(1796587200.123456)
    assert r.age_s(working.now) == pytest.approx(0.376544)


@pytest.mark.parametrize(
    "lines",
    [
        [],
        ["1"],
        ["x", "0"],
        ["1", "0", "{}", "5"],
        ["1", "0", "not json", "5"],
        ["1", "0", _member("a", "b")],
    ],
)
def test_parse_working_refuses_what_faktory_does_not_write(lines: list[str]) -> None:
    with pytest.raises(res.Unreadable):
        res.parse_working(lines)


def _reservation(jid: str, wid: str, reserved_at: float | None = 100.0) -> res.Reservation:
    return res.Reservation(
        _member(jid, wid), jid, "default", "Slow", wid, reserved_at, 2000.0, "{}"
    )


def test_orphaned_are_those_whose_wid_is_not_listed() -> None:
    listed = (res.Process("alive", "h", 1, 1, False),)
    held = (_reservation("1", "alive"), _reservation("2", "gone"), _reservation("3", ""))
    assert [r.jid for r in res.orphaned(held, listed)] == ["2"]
    assert [r.jid for r in res.orphaned(held, ())] == ["1", "2"]  # no wid: never orphaned


def test_older_than() -> None:
    held = (
        _reservation("new", "w", 190.0),
        _reservation("old", "w", 100.0),
        _reservation("?", "w", None),
    )
    assert [r.jid for r in res.older_than(held, 200.0, 60)] == ["old", "?"]
    assert len(res.older_than(held, 200.0, 0)) == 3


def test_rescue_batches_stay_under_the_limit_and_keep_the_order() -> None:
    held = [_reservation(str(n), "w") for n in range(5)]
    one = sum(len(p.encode()) for p in (held[0].member, "default", "{}"))
    batches = res.rescue_batches(held, "q:", limit=2 * one)
    assert [len(b) for b in batches] == [7, 7, 4]
    assert all(b[0] == "q:" for b in batches)
    flat = [b[i] for b in batches for i in range(1, len(b), 3)]
    assert flat == [r.member for r in held]
    assert res.rescue_batches([], "") == []
