"""Label keys faktctl puts on every engine object it owns; the engine is searched by these."""

PROJECT = "io.faktctl.project"
SERVICE = "io.faktctl.service"
ROLE = "io.faktctl.role"  # "server" | "worker"
REPLICA = "io.faktctl.replica"
CONFIG_HASH = "io.faktctl.config-hash"
MANAGED = "io.faktctl.managed"  # always "true"
CONFIG_PARTS = "io.faktctl.config-parts"  # JSON: image and per-field digests, to explain a recreate

# Tests label everything they create with this key (value: the test session id) and remove by it.
TEST = "io.faktctl.test"
