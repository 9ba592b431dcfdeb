"""Benchmarks measure faktctl as installed: `pip install .` leaves compiled bytecode beside the
modules, but an editable checkout under PYTHONDONTWRITEBYTECODE=1 recompiles every module on
every run. Compile once, up front, so that cost is not charged to each measured command."""

from __future__ import annotations

import compileall
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "faktctl"


def ensure_bytecode() -> None:
    compileall.compile_dir(str(PACKAGE), quiet=1)
