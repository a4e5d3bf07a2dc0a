"""Repeated wrong keys from one address: the delays, the decay, the bounded memory (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broadcaster.core.backoff import BackoffPolicy, FailureBackoff, address_group

POLICY = BackoffPolicy()  # 3 free, then 0.5, 1, 2, 4, 4... s; half-life 60 s


def test_the_first_failures_are_free_then_each_waits_twice_as_long_up_to_the_cap() -> None:
    backoff = FailureBackoff()
    delays = [backoff.failed("192.0.2.7", now=0.0) for _ in range(30)]
    assert delays[:3] == [0.0, 0.0, 0.0]
    assert delays[3:7] == [0.5, 1.0, 2.0, 4.0]
    assert set(delays[7:]) == {4.0}
    assert backoff.counters() == {"wrong_keys": 30, "slowed_wrong_keys": 27}


def test_addresses_are_counted_apart() -> None:
    backoff = FailureBackoff()
    for _ in range(10):
        backoff.failed("192.0.2.7", now=0.0)
    assert backoff.failed("192.0.2.8", now=0.0) == 0.0
    assert backoff.count("192.0.2.8", now=0.0) == 1.0


def test_a_quiet_address_is_forgiven_by_half_each_half_life_then_forgotten() -> None:
    backoff = FailureBackoff()
    for _ in range(8):
        backoff.failed("192.0.2.7", now=0.0)
    assert backoff.count("192.0.2.7", now=60.0) == pytest.approx(4.0)
    assert backoff.count("192.0.2.7", now=180.0) == pytest.approx(1.0)
    assert backoff.failed("192.0.2.7", now=180.0) == 0.0  # count 2: free again
    assert backoff.failed("192.0.2.9", now=1000.0) == 0.0
    assert backoff.tracked() == 1  # 192.0.2.7 had decayed to nothing: dropped


def test_a_clock_that_steps_back_never_adds_failures() -> None:
    backoff = FailureBackoff()
    backoff.failed("192.0.2.7", now=100.0)
    assert backoff.count("192.0.2.7", now=50.0) == 1.0


def test_ipv6_addresses_count_per_64_and_mapped_ipv4_as_ipv4() -> None:
    assert address_group("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert address_group("2001:db8:1:2:bbbb::9%eth0") == "2001:db8:1:2::/64"
    assert address_group("::ffff:192.0.2.7") == "192.0.2.7"
    assert address_group("192.0.2.7") == "192.0.2.7"
    assert address_group("unknown") == "unknown"
    backoff = FailureBackoff()
    for host in range(1, 5):  # four addresses of one /64
        backoff.failed(f"2001:db8:1:2::{host}", now=0.0)
    assert backoff.failed("2001:db8:1:2::99", now=0.0) == 1.0  # the fifth failure of the /64


@pytest.mark.parametrize(("field", "value"), [
    ("first_delay_s", 0.0), ("max_delay_s", -1.0), ("half_life_s", 0.0),
    ("free_failures", -1), ("max_addresses", 0),
])
def test_a_bad_policy_names_the_field(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"^{field} = "):
        BackoffPolicy(**{field: value})  # type: ignore[arg-type]


addresses = st.sampled_from([f"10.0.0.{i}" for i in range(12)])
steps = st.lists(st.tuples(addresses, st.floats(0.0, 30.0)), max_size=200)


@settings(max_examples=200)
@given(steps=steps, free=st.integers(0, 5), cap=st.floats(0.01, 10.0),
       max_addresses=st.integers(1, 8))
def test_delays_stay_in_bounds_and_memory_stays_bounded(
    steps: list[tuple[str, float]], free: int, cap: float, max_addresses: int
) -> None:
    policy = BackoffPolicy(free_failures=free, first_delay_s=min(0.5, cap), max_delay_s=cap,
                           max_addresses=max_addresses)
    backoff = FailureBackoff(policy)
    now, slowed = 0.0, 0
    for address, gap in steps:
        now += gap
        before = backoff.count(address, now)
        delay = backoff.failed(address, now)
        assert 0.0 <= delay <= cap
        assert (delay == 0.0) == (before + 1.0 <= free)  # free until the count passes `free`
        assert backoff.count(address, now) == pytest.approx(before + 1.0)
        assert backoff.tracked() <= max_addresses
        slowed += delay > 0
    assert backoff.counters() == {"wrong_keys": len(steps), "slowed_wrong_keys": slowed}


@given(burst=st.integers(1, 60))
def test_in_a_burst_the_delay_never_shrinks(burst: int) -> None:
    backoff = FailureBackoff()
    delays = [backoff.failed("10.0.0.1", now=i * 0.01) for i in range(burst)]
    assert delays == sorted(delays)


def test_a_flood_of_addresses_keeps_only_the_newest() -> None:
    backoff = FailureBackoff(BackoffPolicy(max_addresses=100))
    for i in range(10_000):
        backoff.failed(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}", now=i * 0.001)
    assert backoff.tracked() == 100
    assert backoff.count("10.0.39.15", now=10.0) > 0  # the last one (i = 9999)
    assert backoff.count("10.0.0.0", now=10.0) == 0.0  # evicted
