"""Guard for requests the platform makes to URLs its users chose (webhooks, file inputs).

A URL is refused when its host resolves to a private, loopback, link-local or otherwise
non-global address, unless the address lies in an allow-listed network: without this,
any tenant could make the server read or poke services on its own network (SSRF).
"""

import ipaddress
import socket
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_allowed_address(address: IPAddress | str, allowed_networks: Iterable[str]) -> bool:
    if isinstance(address, str):
        address = ipaddress.ip_address(address.split("%")[0])  # drop an IPv6 zone id
    if any(address in ipaddress.ip_network(text, strict=False) for text in allowed_networks):
        return True
    return address.is_global and not address.is_multicast


def refused_reason(url: str, *, allowed_networks: Iterable[str]) -> str | None:
    """Why the platform may not send a request to `url`, or None if it may.

    Resolves the host name, so call it where blocking for DNS is fine."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http(s) URL"
    try:
        # An IPv4 or IPv6 socket address: (host, port, ...) with the host a str.
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)}
    except (socket.gaierror, UnicodeError, ValueError):
        return "has a host name that does not resolve"
    allowed_networks = list(allowed_networks)
    if not all(is_allowed_address(address, allowed_networks) for address in addresses):
        return "resolves to a private, loopback or link-local address"
    return None


class FetchError(Exception):
    """Why a guarded download failed, phrased to follow "the URL …" or stand alone."""


MAX_REDIRECTS = 5
_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def fetch_to_file(url: str, destination: Path, *, max_bytes: int, allowed_networks: Iterable[str]) -> httpx.Response:
    """GET `url` into `destination`, refusing private addresses (checked again for every
    redirect, and against the address actually connected to, which defeats DNS rebinding)
    and bodies over `max_bytes`. Returns the final response, whose body has been read."""
    allowed_networks = list(allowed_networks)
    # trust_env=False: a proxy from the environment would hide the address really reached.
    with httpx.Client(
        timeout=_TIMEOUT, follow_redirects=False, trust_env=False, headers={"User-Agent": "hearth-file-fetch"}
    ) as client:
        for _ in range(MAX_REDIRECTS + 1):
            reason = refused_reason(url, allowed_networks=allowed_networks)
            if reason:
                raise FetchError(f"the URL {reason}")
            try:
                with client.stream("GET", url) as response:
                    _check_peer(response, allowed_networks)
                    if response.is_redirect and "location" in response.headers:
                        url = str(response.url.join(response.headers["location"]))
                        continue
                    if response.status_code != 200:
                        raise FetchError(f"fetching it answered HTTP {response.status_code}")
                    _save_body(response, destination, max_bytes)
                    return response
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise FetchError(f"fetching it failed: {exc or type(exc).__name__}") from exc
    raise FetchError(f"fetching it was redirected more than {MAX_REDIRECTS} times")


def _check_peer(response: httpx.Response, allowed_networks: list[str]) -> None:
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if peer and not is_allowed_address(peer[0], allowed_networks):
        raise FetchError("the URL resolves to a private, loopback or link-local address")


def _save_body(response: httpx.Response, destination: Path, max_bytes: int) -> None:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"the file is larger than {max_bytes} bytes")
    received = 0
    with destination.open("wb") as file:
        for chunk in response.iter_bytes(1024 * 1024):
            received += len(chunk)
            if received > max_bytes:
                raise FetchError(f"the file is larger than {max_bytes} bytes")
            file.write(chunk)
