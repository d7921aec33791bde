"""Guard for requests the platform makes to URLs its users chose (webhooks, file inputs).

A URL is refused when its host resolves to a private, loopback, link-local or otherwise
non-global address, unless the address lies in an allow-listed network: without this,
any tenant could make the server read or poke services on its own network (SSRF).
"""

import ipaddress
import socket
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_allowed_address(address: IPAddress | str, allowed_networks: Iterable[str]) -> bool:
    if isinstance(address, str):
        address = ipaddress.ip_address(address.split("%")[0])  # drop an IPv6 zone id
    if any(address in ipaddress.ip_network(text, strict=False) for text in allowed_networks):
        return True
    return address.is_global and not address.is_multicast


class Refused(Exception):
    """The platform may not send a request to this URL; str() says why, phrased to follow
    "the URL …"."""


def vetted_addresses(url: str, *, allowed_networks: Iterable[str]) -> list[str]:
    """The addresses `url`'s host resolves to, all of them allowed; raises Refused otherwise.

    Resolves the host name, so call it where blocking for DNS is fine."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Refused("is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("must be an http(s) URL")
    try:
        # An IPv4 or IPv6 socket address: (host, port, ...) with the host a str.
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, ValueError):
        raise Refused("has a host name that does not resolve") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    allowed_networks = list(allowed_networks)
    if not addresses or not all(is_allowed_address(address, allowed_networks) for address in addresses):
        raise Refused("resolves to a private, loopback or link-local address")
    return addresses


def refused_reason(url: str, *, allowed_networks: Iterable[str]) -> str | None:
    """Why the platform may not send a request to `url`, or None if it may.

    Resolves the host name, so call it where blocking for DNS is fine."""
    try:
        vetted_addresses(url, allowed_networks=allowed_networks)
    except Refused as refused:
        return str(refused)
    return None


def new_client(**options: Any) -> httpx.Client:
    """A client for `pinned_stream`: no redirects followed, and no proxy from the environment
    (it would hide the address really reached, and connect where it likes)."""
    return httpx.Client(follow_redirects=False, trust_env=False, **options)


def pinned_request(client: httpx.Client, method: str, url: str, address: str, **options: Any) -> httpx.Request:
    """A request for `url` sent to `address` (an IP address its host resolved to): the Host
    header stays the URL's, and for https so do SNI and the certificate's name check."""
    original = httpx.URL(url)
    headers = httpx.Headers(options.pop("headers", None))
    headers["Host"] = original.netloc.decode("ascii")
    extensions = {"sni_hostname": original.raw_host.decode("ascii")} if original.scheme == "https" else {}
    return client.build_request(
        method, original.copy_with(host=address), headers=headers, extensions=extensions, **options
    )


@contextmanager
def pinned_stream(
    client: httpx.Client, method: str, url: str, *, allowed_networks: Iterable[str], **options: Any
) -> Iterator[httpx.Response]:
    """Send a request to `url` over a connection to an address checked against the
    allow-list, and only to such an address: the host is resolved once, here, and the
    connection goes to the vetted IP, so DNS answering differently a moment later (DNS
    rebinding) cannot send it elsewhere. Each vetted address is tried in turn until one
    connects. The response's body is not read yet; raises Refused or httpx.HTTPError.

    Use a client from `new_client()`, and a new one per host: a connection it keeps is reused
    for the same IP address whatever the host name it was verified for."""
    allowed_networks = list(allowed_networks)
    addresses = vetted_addresses(url, allowed_networks=allowed_networks)
    for index, address in enumerate(addresses):
        request = pinned_request(client, method, url, address, **options)
        try:
            response = client.send(request, stream=True)
        except httpx.ConnectError:
            if index == len(addresses) - 1:
                raise
            continue
        try:
            _check_peer(response, allowed_networks)
            yield response
        finally:
            response.close()
        return


class FetchError(Exception):
    """Why a guarded download failed, phrased to follow "the URL …" or stand alone."""


MAX_REDIRECTS = 5
_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def fetch_to_file(
    url: str,
    destination: Path,
    *,
    max_bytes: int,
    allowed_networks: Iterable[str],
    on_chunk: Callable[[bytes], None] | None = None,
) -> httpx.Response:
    """GET `url` into `destination`, refusing private addresses (checked again for every
    redirect, and connecting only to the address checked, which defeats DNS rebinding)
    and bodies over `max_bytes`. Returns the final response, whose body has been read.
    `on_chunk` sees each piece of the body as it is written (to hash it on the way)."""
    allowed_networks = list(allowed_networks)
    for _ in range(MAX_REDIRECTS + 1):
        # A new client for each hop: a kept connection is verified for the host it was made for.
        with new_client(timeout=_TIMEOUT, headers={"User-Agent": "hearth-file-fetch"}) as http:
            try:
                with pinned_stream(http, "GET", url, allowed_networks=allowed_networks) as response:
                    if response.is_redirect and "location" in response.headers:
                        url = str(httpx.URL(url).join(response.headers["location"]))
                        continue
                    if response.status_code != 200:
                        raise FetchError(f"fetching it answered HTTP {response.status_code}")
                    _save_body(response, destination, max_bytes, on_chunk)
                    return response
            except Refused as refused:
                raise FetchError(f"the URL {refused}") from None
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise FetchError(f"fetching it failed: {exc or type(exc).__name__}") from exc
    raise FetchError(f"fetching it was redirected more than {MAX_REDIRECTS} times")


def _check_peer(response: httpx.Response, allowed_networks: list[str]) -> None:
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if peer and not is_allowed_address(peer[0], allowed_networks):
        raise Refused("resolves to a private, loopback or link-local address")


def _save_body(
    response: httpx.Response, destination: Path, max_bytes: int, on_chunk: Callable[[bytes], None] | None = None
) -> None:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"the file is larger than {max_bytes} bytes")
    received = 0
    with destination.open("wb") as file:
        for chunk in response.iter_bytes(1024 * 1024):
            received += len(chunk)
            if received > max_bytes:
                raise FetchError(f"the file is larger than {max_bytes} bytes")
            if on_chunk is not None:
                on_chunk(chunk)
            file.write(chunk)
