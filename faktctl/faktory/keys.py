"""Where the queues live in Redis, and moving them between the 1.9 and 1.10 key formats.

One Lua script does the counting and the moving inside Redis. A script runs atomically: no
client command runs between its first and last step, so a push that arrives while queues are
merged cannot be overwritten or lost. When the destination list already holds jobs (a server
that ran on the new format before the old lists were moved), the old jobs are appended at the
end Faktory fetches from first, so they keep their turn ahead of the newer ones.

The script is run either inside the running server (`redis-cli` on its unix socket, through
the engine's exec), or in a throwaway container that starts only the image's `redis-server` on
the data volume, with no network at all, so no client can connect while it works; running it
is faktctl.live.queue_keys. Pure: the script, its shell, and reading its report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from faktctl.errors import OperationFailed
from faktctl.faktory.versions import DataFormat

Mode = Literal["count", "move"]
DB_DIR = "/var/lib/faktory/db"
SERVER_SOCKET = f"{DB_DIR}/redis.sock"
MARK = "FAKTCTL"
OFFLINE_TIMEOUT_S = 600.0

# ARGV: mode ("count" | "move"), the source prefix, the destination prefix, the data version
# the destination format implies. Returns one line per queue and per sorted set.
SCRIPT = r"""
local mode, from, to, version = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local out = {}
local names = redis.call('smembers', 'queues')
table.sort(names)
local function llen(key)
  if redis.call('type', key).ok == 'list' then return redis.call('llen', key) end
  return 0
end
for _, name in ipairs(names) do
  local src, dst = from .. name, to .. name
  local moved = 0
  if mode == 'move' and src ~= dst and llen(src) > 0 then
    moved = llen(src)
    if redis.call('exists', dst) == 0 then
      redis.call('rename', src, dst)
    else
      while true do
        local chunk = redis.call('lrange', src, 0, 999)
        if #chunk == 0 then break end
        redis.call('rpush', dst, unpack(chunk))
        redis.call('ltrim', src, #chunk, -1)
      end
      redis.call('del', src)
    end
  end
  local sizes = llen(name) .. ' ' .. llen('q:' .. name)
  table.insert(out, 'queue ' .. sizes .. ' ' .. moved .. ' ' .. name)
end
for _, set in ipairs({'scheduled', 'retries', 'dead', 'working'}) do
  local size = 0
  if redis.call('type', set).ok == 'zset' then size = redis.call('zcard', set) end
  table.insert(out, 'set ' .. size .. ' ' .. set)
end
if mode == 'move' then
  if tonumber(version) > 0 then redis.call('set', 'v', version) else redis.call('del', 'v') end
end
table.insert(out, 'v ' .. (redis.call('get', 'v') or '0'))
return out
"""

# The throwaway container: Redis on the data folder, a socket in /tmp, no TCP port, no save
# rules; the script's result is printed with a marker, then, only when the script completed,
# one foreground SAVE (Redis writes a temp file and renames it over faktory.rdb) before
# shutting down without saving again. A failed script leaves faktory.rdb untouched.
OFFLINE_SHELL = """set -e
sock=/tmp/faktctl-keys.sock
redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 --dir {db} \\
  --dbfilename faktory.rdb --save "" --appendonly no --daemonize yes \\
  --logfile /tmp/faktctl-keys.log --maxmemory-policy noeviction
i=0
until [ "$(redis-cli -s "$sock" ping 2>/dev/null)" = PONG ]; do
  i=$((i+1))
  if [ "$i" -gt 3000 ]; then echo "Redis did not start:"; cat /tmp/faktctl-keys.log; exit 3; fi
  sleep 0.2
done
redis-cli -s "$sock" --raw EVAL "$1" 0 "$2" "$3" "$4" "$5" > /tmp/faktctl-keys.out 2>&1 || true
sed 's/^/{mark} /' /tmp/faktctl-keys.out
if ! grep -q '^v ' /tmp/faktctl-keys.out; then
  echo "the queue-key script failed; nothing was saved"
  redis-cli -s "$sock" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  exit 5
fi
if [ "$2" = move ]; then
  saved=$(redis-cli -s "$sock" SAVE)
  [ "$saved" = OK ] || {{ echo "SAVE failed: $saved"; cat /tmp/faktctl-keys.log; exit 4; }}
fi
redis-cli -s "$sock" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
sync
"""


class KeyMoveFailed(OperationFailed):
    """Counting or moving the queue keys failed."""


@dataclass(frozen=True)
class QueueKeys:
    name: str
    bare: int  # jobs in the 1.9 list `<name>`
    prefixed: int  # jobs in the 1.10 list `q:<name>`
    moved: int = 0


@dataclass(frozen=True)
class KeyReport:
    """What Redis holds, per queue under both key formats, and the sorted sets."""

    queues: tuple[QueueKeys, ...] = ()
    sets: Mapping[str, int] = field(default_factory=dict)
    data_version: int = 0

    def visible(self, data_format: DataFormat) -> dict[str, int]:
        """Queue sizes a server using `data_format` sees."""
        prefixed = bool(data_format.queue_prefix)
        return {q.name: q.prefixed if prefixed else q.bare for q in self.queues}

    def hidden(self, data_format: DataFormat) -> dict[str, int]:
        """Jobs kept under the other format's keys, which that server never reads."""
        prefixed = bool(data_format.queue_prefix)
        found = {q.name: q.bare if prefixed else q.prefixed for q in self.queues}
        return {name: size for name, size in found.items() if size}

    @property
    def moved(self) -> int:
        return sum(q.moved for q in self.queues)


def parse_report(text: str, marker: str = "") -> KeyReport:
    """Parse the script's lines (each optionally prefixed by `marker `)."""
    queues: list[QueueKeys] = []
    sets: dict[str, int] = {}
    data_version = 0
    seen = False
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        if marker:
            if not line.startswith(marker + " "):
                continue
            line = line[len(marker) + 1 :]
        kind, _, rest = line.partition(" ")
        try:
            if kind == "queue":
                bare, prefixed, moved, name = rest.split(" ", 3)
                queues.append(QueueKeys(name, int(bare), int(prefixed), int(moved)))
            elif kind == "set":
                size, name = rest.split(" ", 1)
                sets[name] = int(size)
            elif kind == "v":
                data_version = int(rest)
                seen = True
        except ValueError:
            continue
    if not seen:
        tail = text.strip().splitlines()[-3:]
        raise KeyMoveFailed(
            "Redis did not answer the queue-key script: " + (" | ".join(tail) or "no output")
        )
    return KeyReport(tuple(queues), sets, data_version)


def script_arguments(mode: Mode, source: DataFormat, target: DataFormat) -> list[str]:
    """The script's ARGV for counting (or moving) from `source`'s format to `target`'s."""
    return [mode, source.queue_prefix, target.queue_prefix, str(target.data_version)]
