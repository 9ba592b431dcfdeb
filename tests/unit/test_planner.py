"""The planner: desired x observed -> actions with reasons, in a stable text form."""

from __future__ import annotations

import pytest

from faktctl.platforms.engine.apply import container_config
from faktctl.platforms.engine.observe import ObservedNetwork
from faktctl.platforms.engine.plan import (
    ImageNotAllowed,
    describe_image_change,
    plan,
    plan_down,
    plan_images,
    with_build_tags,
)
from tests.support.planning import (
    IMAGE_IDS,
    SPEC,
    deployed,
    desired_from,
    everything,
    everything_but,
    observed_with,
)


def test_empty_engine_plans_everything_in_order() -> None:
    desired = desired_from()
    empty = observed_with(desired, (), network=None, volumes=frozenset())
    assert plan(desired, empty).lines() == [
        "create network shop_default: missing",
        "create volume shop_data: missing",
        "create faktory: no container (create shop-faktory-1)",
        "wait faktory: ready (HELLO +OK with the password, /health 200) before starting workers",
        "create emails: no container (create shop-emails-1, shop-emails-2)",
        "create reports: no container (create shop-reports-1)",
    ]


def test_matching_deployment_is_up_to_date() -> None:
    desired = desired_from()
    result = plan(desired, observed_with(desired, everything(desired)))
    assert result.up_to_date
    assert result.lines() == [
        "noop faktory: 1 running, up to date",
        "noop emails: 2 running, up to date",
        "noop reports: 1 running, up to date",
    ]


def test_replicas_scale_without_recreating() -> None:
    before = desired_from()
    after = desired_from(SPEC.replace("replicas: 2", "replicas: 4"))
    result = plan(after, observed_with(after, everything(before)))
    assert result.lines() == [
        "noop faktory: 1 running, up to date",
        "wait faktory: ready (HELLO +OK with the password, /health 200) before starting workers",
        "scale up emails: 2 → 4 (create shop-emails-3, shop-emails-4)",
        "noop reports: 1 running, up to date",
    ]
    assert result.actions[2].create == (3, 4)


def test_scale_down_removes_the_highest_replicas_first() -> None:
    before = desired_from(SPEC.replace("replicas: 2", "replicas: 3"))
    after = desired_from(SPEC.replace("replicas: 2", "replicas: 1"))
    result = plan(after, observed_with(after, everything(before)))
    assert result.changes[0].text() == (
        "scale down emails: 3 → 1 (remove shop-emails-3, shop-emails-2)"
    )
    assert [ref.name for ref in result.changes[0].remove] == ["shop-emails-3", "shop-emails-2"]
    assert len(result.changes) == 1
    assert not any(a.kind == "wait" for a in result.actions), "removing needs no healthy server"


def test_a_new_server_image_recreates_only_the_server() -> None:
    before = desired_from()
    after = desired_from(SPEC.replace("1.9.3", "1.9.4"))
    result = plan(after, observed_with(after, everything(before)))
    assert [a.text() for a in result.changes] == [
        "recreate faktory: config changed (image 1.9.3 → 1.9.4)"
    ]
    recreate = result.changes[0]
    assert recreate.remove[0].stop_timeout_s == 60, "the server stops with its grace period"
    assert "wait faktory: ready (HELLO +OK with the password, /health 200)" in result.lines()


def test_environment_changes_are_named() -> None:
    before = desired_from()
    added = desired_from(SPEC.replace("image: reports:7", "image: reports:7\n    env: {A: '1'}"))
    result = plan(added, observed_with(added, everything(before)))
    assert result.changes[0].text() == "recreate reports: config changed (environment +A)"
    changed = desired_from(SPEC.replace("image: reports:7", "image: reports:7\n    env: {A: '2'}"))
    result = plan(changed, observed_with(changed, everything(added)))
    assert result.changes[0].text() == "recreate reports: config changed (environment values)"


def test_a_new_password_recreates_server_and_workers_without_showing_it() -> None:
    before = desired_from(password="old-password-123")
    after = desired_from(password="new-password-456")
    result = plan(after, observed_with(after, everything(before)))
    assert [a.text() for a in result.changes] == [
        "recreate faktory: password or password file changed",
        "recreate emails: config changed (environment values)",
        "recreate reports: config changed (environment values)",
    ]
    assert "password-" not in "\n".join(result.lines())


DASHBOARD_SPEC = SPEC.replace(
    'server: {image: "contribsys/faktory:1.9.3"}',
    'server: {image: "contribsys/faktory:1.9.3", dashboard_password_file: secrets/dashboard}',
)


def test_a_new_dashboard_password_recreates_only_the_server_without_showing_it() -> None:
    before = desired_from(DASHBOARD_SPEC, dashboard_password="old-dashboard-123")
    same = desired_from(DASHBOARD_SPEC, dashboard_password="old-dashboard-123")
    assert plan(same, observed_with(same, everything(before))).up_to_date
    after = desired_from(DASHBOARD_SPEC, dashboard_password="new-dashboard-456")
    result = plan(after, observed_with(after, everything(before)))
    assert [a.text() for a in result.changes] == ["recreate faktory: dashboard password changed"]
    kept_by_the_engine = [container_config(after, s, 1).labels for s in after.services]
    assert "dashboard-" not in "\n".join(result.lines()) + repr(kept_by_the_engine)


def test_unknown_config_parts_still_recreate_on_a_hash_mismatch() -> None:
    desired = desired_from()
    stale = deployed(desired, "reports", 1, config_hash="0" * 64, config_parts={})
    containers = everything_but(desired, stale)
    result = plan(desired, observed_with(desired, containers))
    assert [a.text() for a in result.changes] == ["recreate reports: config changed"]


def test_a_re_pulled_image_under_the_same_tag_recreates() -> None:
    desired = desired_from()
    old = deployed(desired, "reports", 1, image_id="sha256:0123456789abcdef")
    containers = everything_but(desired, old)
    result = plan(desired, observed_with(desired, containers))
    assert [a.text() for a in result.changes] == [
        "recreate reports: image reports:7 changed (0123456789ab → ddd444)"
    ]


def test_stopped_containers_are_started_not_recreated() -> None:
    desired = desired_from()
    containers = everything_but(desired, deployed(desired, "emails", 2, state="exited"))
    result = plan(desired, observed_with(desired, containers))
    assert [a.text() for a in result.changes] == ["start emails: shop-emails-2 is exited"]


def test_orphans_are_removed_before_the_server_is_touched() -> None:
    before = desired_from(SPEC + "  - {name: legacy, image: 'legacy:1'}\n")
    after = desired_from()
    result = plan(after, observed_with(after, everything(before)))
    assert result.lines()[0] == "remove orphan legacy: not in the spec (remove shop-legacy-1)"
    assert result.changes[0].remove[0].stop_timeout_s == 30  # the worker default grace period


def test_a_server_still_starting_is_waited_for() -> None:
    desired = desired_from()
    containers = everything_but(desired, deployed(desired, "faktory", 1, health="starting"))
    result = plan(desired, observed_with(desired, containers))
    assert not result.up_to_date and not result.changes
    assert "shop-faktory-1 is still starting" in result.lines()[1]


def test_image_change_description() -> None:
    assert describe_image_change("a/b:1", "a/b:2") == "image 1 → 2"
    assert describe_image_change("a/b:1", "c/d:1") == "image a/b:1 → c/d:1"
    assert describe_image_change("reg:5000/x", "reg:5000/x:2") == "image latest → 2"


# --- images -----------------------------------------------------------------------------------

BUILD_SPEC = SPEC + "  - name: built\n    build: {context: ./worker}\n"


def test_pull_policy_missing_pulls_only_what_is_absent() -> None:
    desired = desired_from()
    present = {"contribsys/faktory:1.9.3": "sha256:1", "emails:1": None, "reports:7": "sha256:2"}
    actions = plan_images(desired, {}, present, "missing")
    assert [a.text() for a in actions] == ["pull emails:1: not present locally"]


def test_pull_policy_always_and_never() -> None:
    desired = desired_from()
    present = {ref: "sha256:1" for ref in ("contribsys/faktory:1.9.3", "emails:1", "reports:7")}
    assert len(plan_images(desired, {}, present, "always")) == 3
    assert plan_images(desired, {}, present, "never") == ()
    with pytest.raises(ImageNotAllowed, match="emails:1 is not present locally"):
        plan_images(desired, {}, {**present, "emails:1": None}, "never")


def test_built_images_are_tagged_by_their_context_digest() -> None:
    desired = desired_from(BUILD_SPEC)
    digests = {"built": "f" * 64}
    present = {ref: "sha256:1" for ref in IMAGE_IDS}
    actions = plan_images(desired, digests, present, "always")
    build = next(a for a in actions if a.kind == "build")
    assert (
        build.text()
        == "build built: shop-built:build-ffffffffffff (no image built from this context yet)"
    )
    assert build.also_tag == "shop-built:local"
    assert build.context == "/srv/shop/worker"
    resolved = with_build_tags(desired, digests)
    assert resolved.service("built").image == "shop-built:build-ffffffffffff"
    assert resolved.service("emails") == desired.service("emails")
    present[build.reference] = "sha256:9"
    assert not [a for a in plan_images(desired, digests, present, "missing") if a.kind == "build"]


def test_a_changed_context_recreates_the_worker() -> None:
    desired = desired_from(BUILD_SPEC)
    old = with_build_tags(desired, {"built": "a" * 64})
    new = with_build_tags(desired, {"built": "b" * 64})
    result = plan(new, observed_with(new, everything(old)))
    assert [a.text() for a in result.changes] == [
        "recreate built: config changed (image build-aaaaaaaaaaaa → build-bbbbbbbbbbbb)"
    ]


# --- down -------------------------------------------------------------------------------------


def test_down_stops_workers_then_the_server_and_keeps_the_volume() -> None:
    desired = desired_from()
    observed = observed_with(desired, everything(desired))
    result = plan_down(observed, "faktory", ["shop_data"], remove_volumes=False)
    assert result.lines() == [
        "remove emails: stop and remove shop-emails-1, shop-emails-2",
        "remove reports: stop and remove shop-reports-1",
        "remove faktory: stop (up to 60s for its final save) and remove shop-faktory-1",
        "remove network shop_default: created by faktctl",
        "noop volume shop_data: kept (use --volumes to delete)",
    ]
    removing = plan_down(observed, "faktory", ["shop_data"], remove_volumes=True)
    assert removing.lines()[-1] == "remove volume shop_data: --volumes: its data is deleted"


def test_down_leaves_a_network_it_did_not_create() -> None:
    desired = desired_from()
    foreign = ObservedNetwork(desired.network, "net-id", managed=False)
    observed = observed_with(desired, (), network=foreign, volumes=frozenset())
    assert plan_down(observed, "faktory", ["shop_data"], remove_volumes=True).lines() == []


def test_down_volumes_never_removes_a_volume_faktctl_did_not_label() -> None:
    """Issue 24: `docker volume create shop_data` (no labels, or another project's) is not
    ours: `down --volumes` keeps it and says why (labels.owns is the one ownership rule)."""
    desired = desired_from()
    observed = observed_with(desired, everything(desired), foreign_volumes=frozenset({"shop_data"}))
    lines = plan_down(observed, "faktory", ["shop_data"], True).lines()
    assert not any(line.startswith("remove volume") for line in lines), lines
    assert any("shop_data" in line and "faktctl's labels" in line for line in lines), lines


def test_up_says_when_it_would_adopt_an_unlabelled_volume() -> None:
    desired = desired_from()
    empty = observed_with(desired, (), foreign_volumes=frozenset({"shop_data"}))
    lines = plan(desired, empty).lines()
    adopt = [line for line in lines if "shop_data" in line]
    assert adopt and "--adopt-volume" in adopt[0] and "faktctl's labels" in adopt[0], lines


def test_ownership_is_both_labels() -> None:
    from faktctl import labels

    assert labels.owns({labels.MANAGED: "true", labels.PROJECT: "shop"}, "shop")
    assert not labels.owns({labels.PROJECT: "shop"}, "shop")
    assert not labels.owns({labels.MANAGED: "true", labels.PROJECT: "other"}, "shop")
    assert not labels.owns({"com.docker.compose.project": "shop"}, "shop")
    assert not labels.owns(None, "shop")


def test_a_container_that_merely_carries_the_projects_labels_is_not_taken_as_its_own() -> None:
    """Issue 24: `docker run --label io.faktctl.project=shop --label io.faktctl.role=server
    ...` is not the server: the lookup leaves it out and says which container and why."""
    from faktctl import labels
    from faktctl.live.containers import find

    own_tags = {**labels.of_service("shop", "faktory", "server"), labels.REPLICA: "1"}

    class Engine:
        def containers(self, wanted: object, all: bool = True) -> list[dict[str, object]]:
            return [
                {"Id": "a" * 12, "Name": "/shop-faktory-1", "Config": {"Labels": own_tags}},
                {"Id": "b" * 12, "Name": "/impostor", "Config": {"Labels": own_tags}},
                {
                    "Id": "c" * 12,
                    "Name": "/other",
                    "Config": {"Labels": {labels.PROJECT: "shop", labels.ROLE: "server"}},
                },
            ]

    found = find(Engine(), "shop")
    assert [c["Name"] for c in found.with_role("server")] == ["/shop-faktory-1"]
    reasons = dict(found.strangers)
    assert "shop-faktory-1" in reasons["impostor"]
    assert "managed" in reasons["other"]
