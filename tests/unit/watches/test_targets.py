"""Webhook targets: what the server refuses to send to, and what an operator may allow."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.watches.targets import TargetRefused, check_target, resolve_allowed


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://8.8.4.4/Hook?x=1#frag", "https://8.8.4.4/Hook?x=1"),
        ("http://LocalHost:8080/h", "http://localhost:8080/h"),
        ("HTTP://93.184.216.34:8080/a", "http://93.184.216.34:8080/a"),
        ("https://[2606:4700::1111]/h", "https://[2606:4700::1111]/h"),
        ("http://8.8.8.8", "http://8.8.8.8/"),
    ],
)
def test_public_targets_are_normalised(url: str, expected: str) -> None:
    assert check_target(url, ["localhost"]) == expected


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://example.org/x", "only http:// and https://"),
        ("file:///etc/passwd", "only http:// and https://"),
        ("https://user:pw@8.8.8.8/", "credentials"),
        ("https://user@8.8.8.8/", "credentials"),
        ("http:///path", "no host"),
        ("", "empty"),
        ("http://8.8.8.8:99999/", "cannot be read"),
        ("http://127.0.0.1:9200/", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://10.1.2.3/", "private"),
        ("http://192.168.0.1/", "private"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://240.0.0.1/", "reserved"),
        ("http://100.64.0.1/", "non-global"),
        ("http://localhost:6379/", "resolves to 127.0.0.1"),
        ("http://2130706433/", "resolves to 127.0.0.1"),  # 127.0.0.1 written as one number
        ("http://0x7f.1/", "resolves to 127.0.0.1"),
        ("http://no-such-host.invalid/", "does not resolve"),
    ],
)
def test_refused_targets_say_why(url: str, words: str) -> None:
    with pytest.raises(TargetRefused) as caught:
        check_target(url, [])
    assert words in str(caught.value)


def test_the_refusal_says_how_to_allow() -> None:
    with pytest.raises(TargetRefused, match="DATELINE_WEBHOOK_ALLOWED_HOSTS"):
        check_target("http://127.0.0.1:8080/hook", [])


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:8080/hook", ["127.0.0.1"]),
        ("http://127.0.0.1:8080/hook", ["127.0.0.0/8"]),
        ("http://localhost:8080/hook", ["localhost"]),
        ("http://LOCALHOST.:8080/hook", ["localhost"]),
        ("http://localhost:8080/hook", ["127.0.0.1/32"]),
        ("http://10.9.8.7/", ["10.0.0.0/8"]),
        ("http://[::1]:81/", ["::1"]),
        ("http://[::ffff:127.0.0.1]/", ["127.0.0.1"]),
    ],
)
def test_allowed_hosts_and_networks(url: str, allowed: list[str]) -> None:
    normalised = check_target(url, allowed)
    assert normalised.startswith("http://")
    assert resolve_allowed(url, allowed)


def test_an_allowed_network_does_not_open_another() -> None:
    with pytest.raises(TargetRefused, match="private"):
        check_target("http://10.9.8.7/", ["192.168.0.0/16", "127.0.0.1"])


def test_resolve_allowed_gives_the_checked_addresses() -> None:
    assert resolve_allowed("http://localhost:8080/", ["localhost"]) == [ipaddress.ip_address("127.0.0.1")]
    assert resolve_allowed("https://8.8.8.8/x", []) == [ipaddress.ip_address("8.8.8.8")]
    with pytest.raises(TargetRefused):
        resolve_allowed("http://localhost/", [])


_private = st.one_of(
    st.ip_addresses(network="10.0.0.0/8"),
    st.ip_addresses(network="127.0.0.0/8"),
    st.ip_addresses(network="169.254.0.0/16"),
    st.ip_addresses(network="192.168.0.0/16"),
    st.ip_addresses(network="fc00::/7"),
    st.ip_addresses(network="fe80::/10"),
)


def _url(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int) -> str:
    host = f"[{ip}]" if ip.version == 6 else str(ip)
    return f"http://{host}:{port}/hook"


@settings(max_examples=200, deadline=None)
@given(ip=_private, port=st.integers(1, 65535))
def test_fuzz_private_addresses_are_refused_unless_their_network_is_allowed(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int
) -> None:
    with pytest.raises(TargetRefused):
        check_target(_url(ip, port), [])
    network = ipaddress.ip_network(f"{ip}/{8 if ip.version == 4 else 64}", strict=False)
    assert resolve_allowed(_url(ip, port), [str(network)]) == [ip]


@settings(max_examples=300, deadline=None)
@given(
    url=st.one_of(
        st.text(max_size=60),
        st.builds(
            lambda scheme, host, rest: f"{scheme}://{host}{rest}",
            st.sampled_from(["http", "https", "HTTP", "ftp", "javascript", ""]),
            st.one_of(
                st.ip_addresses().map(lambda ip: f"[{ip}]" if ip.version == 6 else str(ip)),
                st.text(alphabet="abc.-:@[]%0x7f1", max_size=20),
            ),
            st.text(max_size=20),
        ),
    )
)
def test_fuzz_any_text_is_refused_with_a_sentence_or_normalised_stably(url: str) -> None:
    try:
        normalised = check_target(url, [])
    except TargetRefused as refused:
        assert str(refused)
        return
    assert normalised.startswith(("http://", "https://"))
    assert check_target(normalised, []) == normalised  # normalising is stable
    for ip in resolve_allowed(normalised, []):
        assert ip.is_global and not ip.is_multicast
