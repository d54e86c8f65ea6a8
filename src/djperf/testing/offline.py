"""Offline tests: a test that reaches a host other than this machine fails.

All external calls should be tested or mocked, so that tests can run
offline. With ``--djperf-offline`` every connection a test
opens to a host that is not loopback is refused, and the test fails naming
the host, the library that connected and the line of the project's code that
made the call, even when the code caught the error. ``--djperf-offline-report``
refuses nothing and lists, at the end of the run, the tests that reached the
network.

The guard sits at the socket (``socket.socket.connect``, ``connect_ex`` and
``socket.getaddrinfo``), not at the HTTP libraries: a call a test mocked
(requests-mock, respx, responses) opens no socket and passes, and SMTP,
Redis or a raw socket are caught like HTTP. Allowed: loopback addresses and
``localhost``, Unix sockets, the hosts of ``settings.DATABASES`` and
``settings.CACHES`` (a CI's database service), and the hosts the user names
(``--djperf-offline-allow HOST``, ``DJPERF["OFFLINE_ALLOW"]``). A driver
written in C (psycopg's libpq) connects without Python's socket module and
is never seen.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from djperf.findings import Location
from djperf.testing.counting import wrapped

# Standard-library modules that connect for the user, by name: when no
# third-party package stands between the user's line and the socket.
_STDLIB_CLIENTS = {
    "urllib.request": "urllib",
    "http.client": "http.client",
    "smtplib": "smtplib",
    "ftplib": "ftplib",
    "imaplib": "imaplib",
    "poplib": "poplib",
}
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class NetworkBlocked(ConnectionRefusedError):
    """djperf's offline mode refused a connection to a host that is not this machine."""


@dataclass(frozen=True)
class Contact:
    """One connection (or name lookup) a test made to a host that is not this machine."""

    host: str
    port: int | None
    library: str | None
    location: Location | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "library": self.library,
            "location": None if self.location is None else self.location.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Contact:
        location = data.get("location")
        return cls(
            data["host"],
            data.get("port"),
            data.get("library"),
            Location.from_dict(location) if location else None,
        )

    def __str__(self) -> str:
        where = f" from {self.location}" if self.location is not None else ""
        by = f" ({self.library})" if self.library else ""
        port = f":{self.port}" if self.port else ""
        return f"{self.host}{port}{by}{where}"


def is_loopback(host: str) -> bool:
    name = host.strip("[]").lower()
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _settings_hosts() -> set[str]:
    """The hosts of the project's databases and caches: a test run needs them."""
    try:
        from django.conf import settings

        if not settings.configured:
            return set()
        return hosts_of(getattr(settings, "DATABASES", {}), getattr(settings, "CACHES", {}))
    except Exception:  # djperf never breaks a run over reading settings
        return set()


def hosts_of(databases: dict[str, Any], caches: dict[str, Any]) -> set[str]:
    """The hosts named by DATABASES' HOST and CACHES' LOCATION (URLs or host:port)."""
    hosts = {str(db["HOST"]).lower() for db in databases.values() if db.get("HOST")}
    for cache in caches.values():
        locations = cache.get("LOCATION") or ()
        for location in [locations] if isinstance(locations, str) else locations:
            host = urlsplit(location if "//" in location else f"//{location}").hostname
            if host:
                hosts.add(host.lower())
    return hosts


_installed: OfflineGuard | None = None


class OfflineGuard:
    """Watches (and in block mode refuses) connections to other hosts."""

    def __init__(self, *, block: bool, allow: Iterable[str] = ()) -> None:
        self.block = block
        self._allow = {host.lower() for host in allow}
        self._allowed: set[str] | None = None  # with the settings' hosts, on first use
        self._addresses: set[str] = set()  # what allowed names resolved to
        self.contacts: list[Contact] = []
        self._lock = threading.Lock()
        self._originals: dict[str, Any] = {}

    # -- installing ----------------------------------------------------------------

    def install(self) -> None:
        global _installed
        if self._originals:
            return
        if _installed is not None and _installed is not self:
            # One guard at a time: a forked --parallel worker inherits its parent's.
            _installed.uninstall()
        _installed = self
        guard = self
        connect, connect_ex = socket.socket.connect, socket.socket.connect_ex
        getaddrinfo = socket.getaddrinfo
        self._originals = {"connect": connect, "connect_ex": connect_ex, "gai": getaddrinfo}

        def guarded_connect(sock: socket.socket, address: Any) -> None:
            guard.check_address(sock, address)
            return connect(sock, address)

        def guarded_connect_ex(sock: socket.socket, address: Any) -> int:
            guard.check_address(sock, address)
            return connect_ex(sock, address)

        def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            # A name looked up is a host reached for (without a network the
            # lookup fails and no connection follows).
            name = host.decode() if isinstance(host, bytes) else host
            if isinstance(name, str):
                guard.check_host(name, args[0] if args else kwargs.get("port"))
            found = getaddrinfo(host, *args, **kwargs)
            if isinstance(name, str) and name.lower() in guard.allowed_names():
                # The connection that follows goes to these addresses.
                guard.allow_addresses(info[4][0] for info in found)
            return found

        socket.socket.connect = guarded_connect  # type: ignore[method-assign,assignment]
        socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign,assignment]
        socket.getaddrinfo = guarded_getaddrinfo

    def uninstall(self) -> None:
        global _installed
        if not self._originals:
            return
        if _installed is self:
            _installed = None
        socket.socket.connect = self._originals["connect"]  # type: ignore[method-assign]
        socket.socket.connect_ex = self._originals["connect_ex"]  # type: ignore[method-assign]
        socket.getaddrinfo = self._originals["gai"]
        self._originals = {}

    # -- checking ------------------------------------------------------------------

    def allowed_names(self) -> set[str]:
        if self._allowed is None:
            self._allowed = self._allow | _settings_hosts()
        return self._allowed

    def allow_addresses(self, addresses: Iterable[Any]) -> None:
        """Addresses an allowed name resolved to: connecting to them is allowed."""
        with self._lock:
            self._addresses.update(str(address).lower() for address in addresses)

    def allowed(self, host: str) -> bool:
        if not host or is_loopback(host):
            return True
        name = host.lower()
        return name in self.allowed_names() or name in self._addresses

    def check_address(self, sock: socket.socket, address: Any) -> None:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return  # a Unix socket, a netlink socket: this machine
        if not isinstance(address, tuple) or not address:
            return
        host, port = str(address[0]), address[1] if len(address) > 1 else None
        self.check_host(host, port)

    def check_host(self, host: str, port: Any) -> None:
        if self.allowed(host):
            return
        contact = Contact(host, _port(port), *_who_called(sys._getframe(1)))
        with self._lock:
            self.contacts.append(contact)
        if self.block:
            raise NetworkBlocked(
                f"djperf offline mode: a connection to {contact} was refused; mock the call, "
                f"or allow the host (--djperf-offline-allow {host})"
            )

    def since(self, mark: int) -> list[Contact]:
        """The contacts made since `mark` (a length of `contacts`), each host once."""
        with self._lock:
            new = self.contacts[mark:]
        seen: dict[tuple[str, int | None], Contact] = {}
        for contact in new:
            seen.setdefault((contact.host, contact.port), contact)
        return list(seen.values())


def _port(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _who_called(frame: Any) -> tuple[str | None, Location | None]:
    """The library that connected and the user line behind it."""
    from djperf.record.stack import locate

    library = None
    site = None
    try:
        site = locate(frame, drive=False)
        library = site.via
        if library is None:
            current = frame
            while current is not None:
                name = current.f_globals.get("__name__", "")
                if name in _STDLIB_CLIENTS:
                    library = _STDLIB_CLIENTS[name]
                current = current.f_back
    except Exception:  # a description, never a reason to fail differently
        pass
    return library, None if site is None else site.location


def describe(contacts: list[Contact]) -> str:
    """A test's failure in block mode."""
    count = len(contacts)
    lines = [
        wrapped(
            f"djperf offline mode: this test tried to reach {count} "
            f"host{'s' if count != 1 else ''} other than this machine (mock the calls, or "
            "allow the hosts with --djperf-offline-allow HOST):"
        )
    ]
    lines += [f"  {contact}" for contact in contacts]
    return "\n".join(lines)
