"""Builds multifetch with the modules every request runs through compiled to C by mypyc.

They stay plain, strictly typed Python (``make check``); compiled, a request costs about a fifth fewer
CPU instructions and the CLI fetches small files about 30 % faster (README, "Speed"). Where no C
compiler or no mypy is at hand, or with ``MULTIFETCH_PURE=1``, the same modules are installed as Python.
``python setup.py build_ext --inplace`` (``make compiled``) puts the compiled modules beside their
sources, which is how the tests and the bench run them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

# The per-request path (input lines, frontier and scheduler, the libcurl loop, name resolution,
# outcomes, records, summary). Compiled code differs from Python in ways these modules avoid: a
# generator dropped unfinished does not run its ``finally`` (so the run's driver and the input readers
# stay Python); two ``except`` clauses naming their exceptions alike in one function fail on the
# second type; an interpreted class cannot subclass a compiled one (nor a compiled one a built-in
# exception); a ``Final`` module constant cannot be patched from outside (what tests lower is not
# ``Final``); and a call in the bounds of a ``memoryview`` or ``bytearray`` slice runs twice (such
# calls get a line of their own).
COMPILED = [
    "_coerce.py",
    "cli/_run.py",
    "engine/_admission.py",
    "engine/_frontier.py",
    "engine/_headers.py",
    "engine/_hosts.py",
    "engine/_idle_hosts.py",
    "engine/_job.py",
    "engine/_latency.py",
    "engine/_ledger.py",
    "engine/_outcomes.py",
    "engine/_ratelimit.py",
    "engine/_result.py",
    "engine/_retries.py",
    "engine/_scheduler.py",
    "engine/_spill.py",
    "engine/_timers.py",
    "inputs/_lines.py",
    "inputs/_urls.py",
    "outputs/_bodies.py",
    "outputs/_csv.py",
    "outputs/_file.py",
    "outputs/_jsonl.py",
    "report/_hosts.py",
    "report/_sketch.py",
    "report/_summary.py",
    "runners/_engine_handle.py",
    "runners/_feed.py",
    "runners/_host_queues.py",
    "runners/_process_frontier.py",
    "runners/_record_maker.py",
    "transports/_curl_handles.py",
    "transports/_curl_loop.py",
    "transports/_curl_names.py",
    "transports/_curl_outcome.py",
    "transports/_curl_redirects.py",
    "transports/_decoding.py",
    "transports/_resolver.py",
    "transports/curl.py",
]


# mypy options for compiling only (``make check`` keeps the strict ones): a missing import is Any.
_TOLERANT = ["--ignore-missing-imports", "--allow-subclassing-any", "--no-warn-return-any",
             "--no-warn-unused-ignores"]


class _OptionalBuildExt(build_ext):
    """Compiling is an optimisation: when it fails the package is installed as Python, with a warning."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # no compiler, no headers, a compiler error
            self._give_up(exc)

    def _give_up(self, exc: Exception) -> None:
        print(f"multifetch: not compiled ({exc}); installing the modules as Python", file=sys.stderr)
        for ext in self.extensions:  # half a build would load compiled modules without their runtime
            Path(self.get_ext_fullpath(ext.name)).unlink(missing_ok=True)
        self.extensions = []


def _not_compiled(why: str) -> list[object]:
    """Install the modules as Python: say why, and remove compiled ones an earlier in-place build left
    beside their sources (``make compiled``), which would otherwise still be the ones imported."""
    print(f"multifetch: not compiled ({why}); installing the modules as Python", file=sys.stderr)
    src = Path(__file__).parent / "src"
    for name in COMPILED:
        module = src / "multifetch" / name
        for stale in module.parent.glob(f"{module.stem}.*.so"):
            stale.unlink()
    for stale in src.glob("multifetch__mypyc.*.so"):
        stale.unlink()
    return []


def _extensions() -> list[object]:
    if os.environ.get("MULTIFETCH_PURE"):
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        return _not_compiled("mypy is not installed")
    try:
        # The dependencies this environment lacks (an optional one, or all of them while pip builds
        # before it installs) are typed Any: compiled code then treats their values as any object.
        paths = [f"src/multifetch/{name}" for name in COMPILED]
        return list(mypycify([*_TOLERANT, *paths], group_name="multifetch", opt_level="3"))
    except SystemExit:  # mypy printed its errors
        return _not_compiled("mypy's errors above")
    except Exception as exc:
        return _not_compiled(repr(exc))


setup(ext_modules=_extensions(), cmdclass={"build_ext": _OptionalBuildExt})
