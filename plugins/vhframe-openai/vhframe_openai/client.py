"""A small client for OpenAI-compatible HTTP endpoints: bounded concurrency, timeouts, retries.

The API key is never stored: it is read from the environment variable named by
``api_key_env`` each time a request is sent, so it cannot reach a fingerprint, a manifest, a
repr or a pickled object. Error messages are scrubbed of it too, because some servers echo
the key they were sent.

httpx is imported lazily so that listing plugins stays cheap.
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any
from urllib.parse import urlsplit

from vhframe.errors import ParamError, UserError

log = logging.getLogger("vhframe.openai")

MAX_RETRY_AFTER = 600.0  # seconds; a server asking for more is treated as asking for this
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class EndpointError(UserError):
    """The endpoint refused a request or stayed unavailable after the retries.

    A ``UserError`` because the fix is on the user's side (key, model name, URL, quota, or
    waiting for the service); the CLI prints it without a traceback and keeps what was done.
    ``status`` is the HTTP status, or ``None`` for a connection failure or timeout.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class _Skipped(Exception):
    """A request not sent because another one in its batch had already failed."""


# --------------------------------------------------------------------------- parameters


def check_int(name: str, value: Any, minimum: int) -> int:
    # bool is an int subclass; `concurrency = true` in a config is a mistake, not 1
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ParamError(name, f"{name} must be an integer >= {minimum}, found {value!r}")
    return value


def check_number(name: str, value: Any, minimum: float, *, open_low: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ParamError(name, f"{name} must be a number, found {value!r}")
    if value < minimum or (open_low and value == minimum):
        rel = ">" if open_low else ">="
        raise ParamError(name, f"{name} must be {rel} {minimum:g}, found {value!r}")
    return float(value)


def check_base_url(value: Any) -> str:
    if not isinstance(value, str):
        raise ParamError("base_url", f"base_url must be a URL string, found {value!r}")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ParamError(
            "base_url",
            f"base_url must be an http(s) URL such as 'http://127.0.0.1:8000/v1', found {value!r}",
        )
    # the URL is recorded in fingerprints and manifests, so it must not carry secrets
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ParamError(
            "base_url",
            "base_url must not contain credentials, a query or a "
            "fragment; put the key in the environment variable named by "
            "api_key_env",
        )
    return value.rstrip("/")


def check_env_name(value: Any) -> str:
    if not isinstance(value, str) or not (value == "" or _ENV_NAME.match(value)):
        raise ParamError(
            "api_key_env",
            "api_key_env must be the name of an environment "
            f'variable (or "" for no key), found {value!r}',
        )
    return value


# --------------------------------------------------------------------------- client


class Endpoint:
    """POSTs JSON to ``<base_url>/<path>`` with at most ``concurrency`` requests in flight.

    Retries 429, 5xx, timeouts and connection errors up to ``max_retries`` times, waiting
    ``Retry-After`` when the server sends it and otherwise ``backoff * 2**attempt`` seconds
    (capped at ``max_backoff``) scaled by a random factor in [0.5, 1) so that many clients
    do not retry in lockstep. Other 4xx fail at once.
    """

    def __init__(
        self,
        *,
        owner: str,
        base_url: str,
        api_key_env: str,
        concurrency: int,
        timeout: float,
        max_retries: int,
        backoff: float,
        max_backoff: float,
    ) -> None:
        self.owner = owner
        self.base_url = check_base_url(base_url)
        self.api_key_env = check_env_name(api_key_env)
        self.concurrency = check_int("concurrency", concurrency, 1)
        self.timeout = check_number("timeout", timeout, 0.0, open_low=True)
        self.max_retries = check_int("max_retries", max_retries, 0)
        self.backoff = check_number("backoff", backoff, 0.0)
        self.max_backoff = check_number("max_backoff", max_backoff, 0.0)
        self._client: Any = None
        self._lock = threading.Lock()
        self._rng = random.Random()

    def __repr__(self) -> str:
        return (
            f"Endpoint(base_url={self.base_url!r}, api_key_env={self.api_key_env!r}, "
            f"concurrency={self.concurrency})"
        )

    def __getstate__(self) -> dict[str, Any]:
        # an open connection pool does not travel to another process; it is rebuilt there
        state = self.__dict__.copy()
        state["_client"] = None
        state["_lock"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # ------------------------------------------------------------------ requests
    def map(
        self, path: str, bodies: Sequence[dict[str, Any]], extract: Callable[[dict[str, Any]], Any]
    ) -> list[Any]:
        """Send every body, ``concurrency`` at a time; return ``extract(reply)`` in order.

        The first failure cancels the requests not yet started and is raised once the
        requests in flight have ended (each is bounded by ``timeout``)."""
        if not bodies:
            return []
        client = self._ensure_client()
        url = f"{self.base_url}/{path}"
        out: list[Any] = [None] * len(bodies)
        pool = ThreadPoolExecutor(
            max_workers=min(self.concurrency, len(bodies)), thread_name_prefix="vhframe-openai"
        )
        try:
            stop = threading.Event()

            def send(body: dict[str, Any]) -> dict[str, Any]:
                # after a failure, workers take no new request from the queue
                if stop.is_set():
                    raise _Skipped
                try:
                    return self._post(client, url, body)
                except BaseException:
                    stop.set()
                    raise

            futures = {pool.submit(send, body): i for i, body in enumerate(bodies)}
            wait(futures, return_when=FIRST_EXCEPTION)
            if stop.is_set():
                wait(futures)
                failed = [
                    f
                    for f in futures
                    if not f.cancelled()
                    and not isinstance(f.exception(), _Skipped)
                    and f.exception() is not None
                ]
                first = min(failed, key=lambda f: futures[f])
                raise first.exception()  # type: ignore[misc]
            for f, i in futures.items():
                out[i] = extract(f.result())
        finally:
            # on a failure or an interrupt, requests not yet started are dropped; those in
            # flight end within the timeout
            pool.shutdown(wait=True, cancel_futures=True)
        return out

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._post(self._ensure_client(), f"{self.base_url}/{path}", body)

    def _ensure_client(self) -> Any:
        import httpx

        with self._lock:
            if self._client is None:
                self._client = httpx.Client(
                    timeout=httpx.Timeout(self.timeout),
                    limits=httpx.Limits(
                        max_connections=self.concurrency, max_keepalive_connections=self.concurrency
                    ),
                    # proxies from the environment would send prompts (and the key) elsewhere
                    trust_env=False,
                )
            return self._client

    def _key(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env else None

    def _post(self, client: Any, url: str, body: dict[str, Any]) -> dict[str, Any]:
        import httpx

        attempt = 0
        while True:
            key = self._key()
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            status: int | None = None
            retry_after: float | None = None
            try:
                response = client.post(url, json=body, headers=headers)
            except httpx.TimeoutException:
                problem = f"timed out after {self.timeout:g} s"
            except httpx.TransportError as exc:
                problem = f"connection failed: {type(exc).__name__}: {exc}"
            else:
                status = response.status_code
                if status < 400:
                    return self._json(response, url, key)
                message = self._scrub(_endpoint_message(response), key)
                problem = f"HTTP {status} {response.reason_phrase}: {message}"
                if status != 429 and status < 500:  # other 4xx: retrying cannot help
                    hint = ""
                    if status in (401, 403) and self.api_key_env and not key:
                        hint = f" (environment variable {self.api_key_env} is not set)"
                    raise EndpointError(
                        f"{self.owner}: POST {url} failed with {problem}{hint}", status
                    )
                retry_after = _retry_after(response.headers.get("retry-after"))
            if attempt >= self.max_retries:
                tries = f"{attempt + 1} attempt" + ("s" if attempt else "")
                raise EndpointError(
                    f"{self.owner}: POST {url} failed after {tries}: {problem}", status
                )
            delay = retry_after if retry_after is not None else self._backoff(attempt)
            log.warning(
                "%s: %s; retry %d of %d in %.2f s",
                self.owner,
                problem,
                attempt + 1,
                self.max_retries,
                delay,
            )
            time.sleep(delay)
            attempt += 1

    def _backoff(self, attempt: int) -> float:
        with self._lock:
            jitter = 0.5 + self._rng.random() / 2
        return min(self.max_backoff, self.backoff * 2.0**attempt) * jitter

    def _json(self, response: Any, url: str, key: str | None) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            snippet = self._scrub(response.text[:200], key)
            raise EndpointError(
                f"{self.owner}: POST {url} returned a reply that is not a JSON object: {snippet!r}",
                response.status_code,
            )
        return data

    @staticmethod
    def _scrub(text: str, key: str | None) -> str:
        return text.replace(key, "***") if key else text


def _endpoint_message(response: Any) -> str:
    """The server's own explanation: OpenAI's ``{"error": {"message": ...}}`` or the body."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return str(err["message"])[:500]
        if isinstance(err, str):
            return err[:500]
        if isinstance(data.get("detail"), str):
            return str(data["detail"])[:500]
    text = response.text.strip()
    return text[:500] if text else "(empty body)"


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if seconds != seconds:
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
