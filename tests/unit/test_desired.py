"""The desired state is a pure function of the spec; its config hash decides recreation."""

from __future__ import annotations

from pathlib import Path

from faktctl.desired import SecretEnv, build_desired, faktory_url
from faktctl.desired import Secrets as DesiredSecrets
from faktctl.secretvalue import SecretStr
from faktctl.spec.load import parse_spec

SPEC = """\
project: shop
workers:
  - name: emails
    image: emails:1
    replicas: 2
"""


def _desired(text: str = SPEC, password: str = "pw-one"):  # type: ignore[no-untyped-def]
    loaded = parse_spec(text, Path("/srv/shop/faktory.yaml"))
    return build_desired(loaded, DesiredSecrets(SecretStr(password)))


def test_replicas_do_not_change_the_config_hash() -> None:
    before = _desired().service("emails").config_hash()
    after = _desired(SPEC.replace("replicas: 2", "replicas: 5")).service("emails").config_hash()
    assert before == after


def test_image_and_password_changes_change_the_hash() -> None:
    base = _desired()
    new_image = _desired(SPEC + "server: {image: 'contribsys/faktory:1.9.3'}\n")
    assert base.server.config_hash() != new_image.server.config_hash()
    assert base.service("emails").config_hash() == new_image.service("emails").config_hash()
    rotated = _desired(password="pw-two")
    assert base.service("emails").config_hash() != rotated.service("emails").config_hash()


def test_paths_resolve_against_the_spec_folder() -> None:
    desired = _desired()
    assert desired.secrets[0].host_path == "/srv/shop/secrets/faktory_password"
    assert desired.volumes[0].name == "shop_data"
    assert desired.network == "shop_default"


def test_worker_url_is_a_secret_and_percent_encodes_the_password() -> None:
    url = faktory_url(SecretStr("p@ss:w/rd"))
    assert url.get_secret_value() == "tcp://:p%40ss%3Aw%2Frd@faktory:7419"
    env = dict(_desired().service("emails").env)
    assert isinstance(env["FAKTORY_URL"], SecretEnv)
    assert "pw-one" not in repr(env["FAKTORY_URL"])
