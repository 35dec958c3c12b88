"""The requests transport: every scheduler feature over a thread pool of ``requests`` sessions.

For people who bring a ``requests.Session`` (auth plugins, mounted adapters, cookies, proxies).
Each worker thread gets its own clone of the session; completions are posted to a queue that the
scheduler's loop waits on, so limits, rate limits, retries, parking and resume work unchanged.
Proxy settings from the environment are resolved once per run, not on every call as
``trust_env`` does.
"""

from __future__ import annotations

import copy
import os
import queue
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from .._errors import ErrorKind
from ..engine._job import Job
from ..engine._policy import Timeouts
from ..engine._result import Timings
from ..outputs._bodies import BodyStore, FileBody
from .curl import USER_AGENT


class _TooLarge(Exception):
    pass


class _TotalTimeout(Exception):
    pass


def error_kind(exc: BaseException) -> str:
    """requests/urllib3 exceptions → multifetch error kinds: the only place this is decided."""
    if isinstance(exc, _TooLarge):
        return ErrorKind.BODY_TOO_LARGE
    if isinstance(exc, _TotalTimeout | requests.Timeout):
        return ErrorKind.TIMEOUT
    if isinstance(exc, requests.exceptions.SSLError):
        return ErrorKind.TLS
    if isinstance(exc, requests.TooManyRedirects):
        return ErrorKind.TOO_MANY_REDIRECTS
    if isinstance(exc, requests.exceptions.InvalidSchema):
        return ErrorKind.BLOCKED
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return ErrorKind.INVALID_INPUT
    if isinstance(exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError):
        return ErrorKind.PROTOCOL
    if isinstance(exc, requests.ConnectionError):
        text = repr(exc)
        if "NameResolution" in text or "Name or service not known" in text or "getaddrinfo" in text:
            return ErrorKind.DNS
        if "RemoteDisconnected" in text or "Connection aborted" in text or "reset" in text.lower():
            return ErrorKind.RESET
        if "BadStatusLine" in text or "InvalidChunkLength" in text or "IncompleteRead" in text:
            return ErrorKind.PROTOCOL
        return ErrorKind.CONNECT
    if isinstance(exc, OSError):
        return ErrorKind.WRITE
    return ErrorKind.OTHER


def clone_session(session: requests.Session, pool_size: int, max_redirects: int) -> requests.Session:
    """A per-thread copy of ``session``: auth, headers, cookies (shared jar), proxies, adapters."""
    clone = requests.Session()
    clone.headers = CaseInsensitiveDict(session.headers)
    clone.auth = session.auth
    clone.cookies = session.cookies  # one jar: cookies set by any answer are seen by all
    clone.proxies = dict(session.proxies)
    clone.hooks = {k: list(v) for k, v in session.hooks.items()}
    clone.params = copy.copy(session.params)
    clone.verify = session.verify
    clone.cert = session.cert
    clone.max_redirects = max_redirects
    clone.trust_env = False  # resolved once per run by the transport instead
    clone.adapters.clear()
    for prefix, adapter in session.adapters.items():
        if type(adapter) is HTTPAdapter and adapter.max_retries.total == 0:
            # requests' own default adapter: give each thread one sized to the concurrency
            clone.mount(prefix, HTTPAdapter(pool_connections=16, pool_maxsize=pool_size))
        else:
            clone.mount(prefix, adapter)  # the user's adapter, shared by every thread
    return clone


class RequestsTransport:
    """Runs attempts on ``requests`` in ``concurrency`` worker threads."""

    name = "requests"

    def __init__(
        self,
        *,
        timeouts: Timeouts,
        bodies: BodyStore,
        concurrency: int,
        session: requests.Session | None = None,
        max_body_size: int | None = None,
        max_redirects: int = 10,
        follow_redirects: bool = True,
        verify: bool = True,
        cafile: str | None = None,
        keep_response: bool = False,
        user_agent: str = USER_AGENT,
        **_ignored: Any,
    ) -> None:
        self._timeouts = timeouts
        self._bodies = bodies
        self._max_body = max_body_size
        self._keep_response = keep_response
        if session is None:
            session = requests.Session()
            session.headers["User-Agent"] = user_agent
        self._session = session
        self._max_redirects = max_redirects
        self._follow_redirects = follow_redirects
        own = session.verify
        self._verify: bool | str = (cafile or verify) if own is True or own is None else own
        self._env_proxies: dict[str, str] = {}
        self._no_proxy: str | None = None
        if session.trust_env:
            self._env_proxies = urllib.request.getproxies()
            self._no_proxy = self._env_proxies.pop("no", None)
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            if bundle and self._verify is True:
                self._verify = bundle
        self._bypass: dict[str, bool] = {}
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="multifetch-requests")
        self._pool_size = max(concurrency, 10)
        self._done: queue.SimpleQueue[Job | None] = queue.SimpleQueue()  # None: wake()
        self._jobs: dict[int, Job] = {}
        self._aborted: set[int] = set()
        self._lock = threading.Lock()
        self.active = 0

    # -- the scheduler's side --------------------------------------------------------------------

    def start(self, job: Job) -> None:
        job.started_at = time.time()
        job.t0 = time.monotonic()
        self._jobs[id(job)] = job
        self.active += 1
        self._pool.submit(self._work, job, job.attempt)

    def poll(self, timeout: float) -> list[Job]:
        done: list[Job] = []
        try:
            job = self._done.get(timeout=timeout) if timeout > 0 else self._done.get_nowait()
        except queue.Empty:
            return done
        while True:
            if job is not None and self._jobs.pop(id(job), None) is not None:
                self.active -= 1
                done.append(job)
            try:
                job = self._done.get_nowait()
            except queue.Empty:
                return done

    def wake(self) -> None:
        self._done.put(None)

    def kick(self) -> None:
        """Nothing to do: a worker thread sends its request as soon as it is started."""

    def expect(self, origin: str) -> None:
        """Nothing to do: requests resolves names itself, in the worker thread."""

    def abort(self, job: Job) -> None:
        """Forget ``job``'s attempt: a thread cannot be interrupted, its late answer is dropped."""
        if self._jobs.pop(id(job), None) is not None:
            self.active -= 1
            with self._lock:
                self._aborted.add(id(job))

    def in_flight(self) -> list[Job]:
        return list(self._jobs.values())

    def close(self) -> None:
        for job in self.in_flight():
            self.abort(job)
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- the worker threads' side ------------------------------------------------------------------

    def _thread_session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = clone_session(self._session, self._pool_size, self._max_redirects)
            self._local.session = session
        return session

    def _proxies(self, job: Job) -> dict[str, str] | None:
        if not self._env_proxies:
            return None
        bypass = self._bypass.get(job.host)
        if bypass is None:
            bypass = bool(self._no_proxy) and requests.utils.should_bypass_proxies(job.host, self._no_proxy)
            self._bypass[job.host] = bypass
        return None if bypass else self._env_proxies

    def _work(self, job: Job, attempt: int) -> None:
        request = job.request
        writer = self._bodies.writer(job.id)
        total = request.timeout or self._timeouts.total
        deadline = job.t0 + total
        response = None
        try:
            session = self._thread_session()
            response = session.request(
                request.method,
                request.full_url if request.params else request.url,
                headers=_header_dict(request.headers),
                data=request.body,
                timeout=(self._timeouts.connect, total),
                stream=True,
                verify=self._verify,
                proxies=self._proxies(job),
                allow_redirects=self._follow_redirects,
            )
            first_byte = time.monotonic() - job.t0
            if isinstance(writer, FileBody):  # it tells a 304 (no body, keep the file) by the status
                writer.raw_headers = [f"HTTP/1.1 {response.status_code}\r\n".encode()]
            for chunk in response.iter_content(65536):
                if time.monotonic() > deadline:
                    raise _TotalTimeout(f"Operation timed out after {total:g} s (while transferring)")
                if self._max_body is not None and writer.size + len(chunk) > self._max_body:
                    raise _TooLarge(f"body larger than {self._max_body} bytes")
                if writer.write(chunk) == 0:
                    raise OSError(f"cannot save body: {getattr(writer, 'error', '')}")
            content, sha, path = writer.finish()
            elapsed = time.monotonic() - job.t0
            job.content, job.sha256, job.body_path = content, sha, path
            job.size = writer.size
            job.status = response.status_code
            job.final_url = response.url
            job.http_version = {10: "1.0", 11: "1.1"}.get(response.raw.version, "") if response.raw else ""
            job.raw_headers = [f"HTTP/1.1 {response.status_code}\r\n".encode()] + [
                f"{k}: {v}\r\n".encode("latin-1", "replace") for k, v in response.headers.items()
            ]
            job.timings = Timings(0.0, 0.0, 0.0, first_byte, elapsed)
            job.elapsed = elapsed
            if self._keep_response:
                response._content = content if content is not None else b""
                job.native = response
        except Exception as exc:
            writer.abort()
            job.elapsed = time.monotonic() - job.t0
            job.final_url = response.url if response is not None else None
            job.fail(error_kind(exc), str(exc) or type(exc).__name__)
            if self._keep_response:
                job.native = exc
        finally:
            if response is not None:
                response.close()
        with self._lock:
            if id(job) in self._aborted:
                self._aborted.discard(id(job))
                return
        if job.attempt == attempt:
            self._done.put(job)


def _header_dict(headers: tuple[tuple[str, str], ...]) -> dict[str, str | bytes] | None:
    """The request's headers for requests; values that are not ASCII go as UTF-8, as libcurl sends
    them (given as text, http.client would send Latin-1, or fail past it)."""
    if not headers:
        return None
    return {k: v if v.isascii() else v.encode() for k, v in headers}
