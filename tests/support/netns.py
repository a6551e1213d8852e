"""A second host on this machine: a network namespace joined to this one by a veth pair on a
private /30, with a host name of its own for the processes it runs.

Only the test's own traffic crosses it: the namespace has no route but the pair's. Removing
the namespace removes the pair; ``remove()`` also ends whatever still runs inside, so a test
that fails half-way leaves nothing behind.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

# 10.213.0.0/16 carved into /30s: one per namespace, picked from the test's pid.
POOL = ipaddress.ip_network("10.213.0.0/16")
_numbers = itertools.count()


def _ip(*args: str, namespace: str | None = None) -> str:
    command = ["ip", *(["netns", "exec", namespace, "ip"] if namespace else []), *args]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {result.stderr.strip()}")
    return result.stdout


def _used_addresses() -> set[ipaddress.IPv4Address]:
    found = set()
    for line in _ip("-4", "-o", "addr").splitlines():
        parts = line.split()
        if "inet" in parts:
            found.add(ipaddress.ip_interface(parts[parts.index("inet") + 1]).ip)
    return found


class SecondHost:
    """``ip netns`` namespace ``name`` with ``hostname``; ``host_address`` is this machine's
    end of the pair (where the second host reaches Redis and Elasticsearch)."""

    def __init__(self, name: str, hostname: str):
        self.name = name
        self.hostname = hostname
        tag = f"{os.getpid() % 10000}x{next(_numbers)}"
        self.outer, self.inner = f"dlh{tag}a", f"dlh{tag}b"  # at most 15 characters
        used = _used_addresses()
        subnets = list(POOL.subnets(new_prefix=30))
        start = os.getpid() % len(subnets)
        for subnet in subnets[start:] + subnets[:start]:
            hosts = list(subnet.hosts())
            if not set(hosts) & used:
                self.subnet = subnet
                self.host_address, self.address = str(hosts[0]), str(hosts[1])
                break
        else:
            raise RuntimeError(f"no free /30 left in {POOL}")

    def create(self) -> SecondHost:
        _ip("netns", "add", self.name)
        try:
            _ip("link", "add", self.outer, "type", "veth", "peer", "name", self.inner)
            _ip("link", "set", self.inner, "netns", self.name)
            _ip("addr", "add", f"{self.host_address}/30", "dev", self.outer)
            _ip("link", "set", self.outer, "up")
            _ip("addr", "add", f"{self.address}/30", "dev", self.inner, namespace=self.name)
            _ip("link", "set", self.inner, "up", namespace=self.name)
            _ip("link", "set", "lo", "up", namespace=self.name)
        except BaseException:
            self.remove()
            raise
        return self

    def prefix(self) -> tuple[str, ...]:
        """What runs a command on the second host: in its network namespace, with its own
        host name (a UTS namespace), as the same process (no fork: signals reach it)."""
        return (
            "ip",
            "netns",
            "exec",
            self.name,
            "unshare",
            "--uts",
            "sh",
            "-c",
            f'hostname {self.hostname} && exec "$@"',
            "on-second-host",
        )

    def run(
        self, *command: str, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.prefix(), *command], capture_output=True, text=True, env=env, timeout=timeout
        )

    def pids(self) -> list[int]:
        """Every process running on the second host."""
        result = subprocess.run(["ip", "netns", "pids", self.name], capture_output=True, text=True)
        return [int(pid) for pid in result.stdout.split()] if result.returncode == 0 else []

    def kill_everything(self, sig: int = signal.SIGKILL, timeout: float = 30) -> list[int]:
        """The host dies: ``sig`` to every process in it; returns their pids once all are gone."""
        pids = self.pids()
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        while self.pids() and time.monotonic() < deadline:
            time.sleep(0.1)
        return pids

    def remove(self) -> None:
        self.kill_everything()
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
        # Deleting the namespace deletes its end of the pair, and with it ours; in case not:
        subprocess.run(["ip", "link", "del", self.outer], capture_output=True)


def existing_namespaces() -> Sequence[str]:
    result = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    return [line.split()[0] for line in result.stdout.splitlines() if line.strip()]


@contextmanager
def second_host(name: str, hostname: str) -> Iterator[SecondHost]:
    host = SecondHost(name, hostname).create()
    try:
        yield host
    finally:
        host.remove()
