"""The build: the per-request modules run compiled, and a machine without a C compiler still installs."""

from __future__ import annotations

import ast
import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def compiled_modules() -> list[str]:
    """setup.py's ``COMPILED``, read without running setup.py."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "COMPILED":
            names: list[str] = ast.literal_eval(node.value)
            return names
    raise AssertionError("setup.py has no COMPILED list")


def test_the_per_request_modules_run_compiled() -> None:
    names = compiled_modules()
    assert "transports/curl.py" in names and "engine/_frontier.py" in names
    for name in names:
        module = importlib.import_module("multifetch." + name.removesuffix(".py").replace("/", "."))
        assert module.__file__ is not None and module.__file__.endswith(".so"), (
            f"{name} runs as Python: `make compiled` builds it")


def test_without_a_c_compiler_the_modules_are_installed_as_python(tmp_path: Path) -> None:
    env = {**os.environ, "CC": "false", "LDSHARED": "false"}
    done = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--build-lib", str(tmp_path / "lib"),
                           "--build-temp", str(tmp_path / "temp")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "multifetch: not compiled" in done.stderr and "installing the modules as Python" in done.stderr
    assert not list((tmp_path / "lib").rglob("*.so"))  # no half build left to install


def test_the_compiled_modules_avoid_what_compiled_code_does_differently() -> None:
    """A generator dropped unfinished does not run its ``finally`` (nor a ``with``'s exit) when
    compiled, and one ``except ... as name`` per function holds one exception type: a second
    type under the same name fails with a TypeError instead of being handled."""
    found = []
    for name in compiled_modules():
        tree = ast.parse((ROOT / "src" / "multifetch" / name).read_text())
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            nodes = list(ast.walk(function))
            if any(isinstance(n, ast.Yield | ast.YieldFrom) for n in nodes):
                found += [f"{name}:{n.lineno} {function.name}: cleanup in a generator" for n in nodes
                          if isinstance(n, ast.With) or (isinstance(n, ast.Try) and n.finalbody)]
            caught: dict[str, set[str]] = {}
            for n in nodes:
                if isinstance(n, ast.ExceptHandler) and n.name and n.type is not None:
                    caught.setdefault(n.name, set()).add(ast.unparse(n.type))
            found += [f"{name} {function.name}: `as {k}` for {sorted(v)}" for k, v in caught.items() if len(v) > 1]
    assert not found, found


def test_a_build_that_cannot_compile_removes_the_compiled_modules_it_would_leave_stale(tmp_path: Path) -> None:
    """An in-place build (``make compiled``) that falls back to Python must not leave the last
    build's compiled modules beside the sources: Python would go on importing them."""
    shutil.copy(ROOT / "setup.py", tmp_path)
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    package = tmp_path / "src" / "multifetch"
    suffix = ".cpython-311-x86_64-linux-gnu.so"
    stale = [package / f"_coerce{suffix}", package / "transports" / f"curl{suffix}",
             tmp_path / "src" / f"multifetch__mypyc{suffix}"]
    for path in stale:
        path.write_bytes(b"")
    (package / "engine" / "_timers.py").unlink()  # mypy stops at once: a module it was given is missing
    done = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "multifetch: not compiled" in done.stderr and "installing the modules as Python" in done.stderr
    assert [path for path in stale if path.exists()] == []
