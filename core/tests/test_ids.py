"""ids.new_id / is_id: 26-character ULIDs that sort by creation time."""

from __future__ import annotations

import time

from wattlane.core.ids import _ALPHABET, is_id, new_id


def test_new_id_is_26_crockford_characters() -> None:
    for _ in range(200):
        value = new_id()
        assert len(value) == 26
        assert set(value) <= set(_ALPHABET)
        assert not set(value) & set("ILOU")
        assert is_id(value)


def test_ids_are_unique() -> None:
    values = [new_id() for _ in range(20_000)]
    assert len(set(values)) == len(values)


def test_ids_sort_in_creation_order_within_a_millisecond() -> None:
    """Rows written in one request (audit entries, a batch) list in the order they were made."""
    values = [new_id() for _ in range(2000)]  # many share a millisecond
    assert values == sorted(values)
    assert len(set(values)) == len(values)


def test_ids_sort_by_creation_time() -> None:
    values = []
    for _ in range(5):
        values.append(new_id())
        time.sleep(0.002)  # a new millisecond: the 48-bit time prefix grows
    assert values == sorted(values)


def test_time_prefix_is_the_current_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    value = new_id()
    after = time.time_ns() // 1_000_000
    decoded = 0
    for char in value:
        decoded = decoded * 32 + _ALPHABET.index(char)
    assert before <= decoded >> 80 <= after


def test_is_id() -> None:
    assert is_id("operator")
    assert is_id("a-b_c")
    assert is_id("x" * 64)
    assert not is_id("")
    assert not is_id("x" * 65)
    assert not is_id("a/b")
    assert not is_id("a b")
    assert not is_id("a.b")
