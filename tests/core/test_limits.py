"""Admission: one count of listeners, in total, per address and per owner (a worker)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcaster.core.limits import Admission


def test_an_owner_that_goes_takes_its_listeners_with_it() -> None:
    admission = Admission(max_total=4, max_per_address=2)
    assert admission.admit("a", owner=0) is None
    assert admission.admit("a", owner=1) is None
    assert admission.admit("a", owner=1) is not None  # two from "a" already
    assert admission.admit("b", owner=1) is None
    assert admission.release_owner(1) == 2
    assert (admission.total, admission.from_address("a"), admission.from_address("b")) == (1, 1, 0)
    assert admission.admit("a", owner=2) is None  # room again


def test_a_release_by_the_wrong_owner_is_refused_and_counts_nothing() -> None:
    admission = Admission(max_total=4, max_per_address=2)
    admission.admit("a", owner=0)
    with pytest.raises(ValueError, match="no listener from a"):
        admission.release("a", owner=1)
    assert admission.total == 1
    admission.release("a", owner=0)
    assert admission.total == 0


@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 2), st.booleans()),
                max_size=60))
def test_counts_stay_consistent_whatever_the_order(steps: list[tuple[str, int, bool]]) -> None:
    admission = Admission(max_total=5, max_per_address=3)
    held: list[tuple[str, int]] = []
    for address, owner, join in steps:
        if join:
            if admission.admit(address, owner) is None:
                held.append((address, owner))
        elif (address, owner) in held:
            admission.release(address, owner)
            held.remove((address, owner))
        else:
            gone = admission.release_owner(owner)
            assert gone == sum(1 for _, o in held if o == owner)
            held = [(a, o) for a, o in held if o != owner]
        assert admission.total == len(held) <= 5
        for name in "abc":
            assert admission.from_address(name) == sum(1 for a, _ in held if a == name) <= 3
