"""Running the real CLI as a subprocess, and reading what it wrote."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def mf(*args: str, stdin: bytes | None = None, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "multifetch", *args],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


def jsonl(path: Path | str | bytes) -> list[dict[str, Any]]:
    text = path.decode() if isinstance(path, bytes) else Path(path).read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]
