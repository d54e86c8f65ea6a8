"""The offline guard in-process: what counts as this machine, what is refused."""

from __future__ import annotations

import socket

import pytest
from django.test import override_settings

from djperf.testing.offline import NetworkBlocked, OfflineGuard, hosts_of, is_loopback


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.5.0.9", "::1", "[::1]", "localhost", "LOCALHOST", "web.localhost"]
)
def test_loopback(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["192.0.2.1", "10.0.0.1", "example.com", "localhost.example"])
def test_not_loopback(host):
    assert not is_loopback(host)


@pytest.fixture
def guard():
    made = []

    def make(**kwargs):
        guard = OfflineGuard(**kwargs)
        guard.install()
        made.append(guard)
        return guard

    yield make
    for guard in made:
        guard.uninstall()


def test_block_mode_refuses_a_far_host_and_names_the_line(guard):
    watching = guard(block=True)
    with pytest.raises(NetworkBlocked, match=r"connection to 192\.0\.2\.1:9 .*was refused"):
        socket.create_connection(("192.0.2.1", 9), timeout=0.1)  # far-call
    [contact] = watching.since(0)
    assert (contact.host, contact.port) == ("192.0.2.1", 9)
    assert contact.location is not None
    assert contact.location.path == "tests/testing/test_offline.py"


def test_block_mode_refuses_a_name_lookup(guard):
    guard(block=True)
    with pytest.raises(NetworkBlocked, match=r"api\.example\.com:443"):
        socket.getaddrinfo("api.example.com", 443)


def test_loopback_and_unix_sockets_pass(guard, tmp_path):
    watching = guard(block=True)
    server = socket.create_server(("127.0.0.1", 0))
    with server, socket.create_connection(server.getsockname()):
        pass
    unix = socket.socket(socket.AF_UNIX)
    with unix, pytest.raises(OSError) as refused:
        unix.connect(str(tmp_path / "none.sock"))
    assert not isinstance(refused.value, NetworkBlocked)
    assert watching.since(0) == []


def test_database_and_cache_hosts():
    assert hosts_of(
        {"default": {"HOST": "DB.internal"}, "other": {"HOST": ""}},
        {
            "default": {"LOCATION": "redis://cache.internal:6379/0"},
            "memcached": {"LOCATION": ["mc1.internal:11211", "mc2.internal:11211"]},
            "local": {"LOCATION": "unique-snowflake"},
        },
    ) == {"db.internal", "cache.internal", "mc1.internal", "mc2.internal", "unique-snowflake"}


@override_settings(
    CACHES={"default": {"BACKEND": "x", "LOCATION": "redis://cache.internal:6379/0"}},
)
def test_the_settings_cache_hosts_and_the_named_ones_are_allowed():
    guard = OfflineGuard(block=True, allow=["Partner.Example"])
    assert guard.allowed("cache.internal")
    assert guard.allowed("partner.example")
    assert not guard.allowed("api.example.com")


def test_report_mode_refuses_nothing(guard):
    watching = guard(block=False)
    with pytest.raises(OSError) as failed:
        socket.create_connection(("192.0.2.1", 9), timeout=0.01)
    assert not isinstance(failed.value, NetworkBlocked)
    assert [c.host for c in watching.since(0)] == ["192.0.2.1"]


def test_uninstall_puts_the_socket_module_back(guard):
    connect, getaddrinfo = socket.socket.connect, socket.getaddrinfo
    watching = guard(block=True)
    assert socket.socket.connect is not connect
    watching.uninstall()
    assert socket.socket.connect is connect
    assert socket.getaddrinfo is getaddrinfo


def test_an_allowed_name_allows_the_addresses_it_resolves_to(monkeypatch):
    real = socket.getaddrinfo

    def resolving(host, *args, **kwargs):
        if host == "db.internal":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.77", args[0]))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolving)
    guard = OfflineGuard(block=True, allow=["db.internal"])
    guard.install()
    try:
        with pytest.raises(OSError) as failed:
            socket.create_connection(("db.internal", 5432), timeout=0.01)
        assert not isinstance(failed.value, NetworkBlocked)  # tried, not refused
        with pytest.raises(NetworkBlocked):
            socket.create_connection(("192.0.2.78", 5432), timeout=0.01)
    finally:
        guard.uninstall()
