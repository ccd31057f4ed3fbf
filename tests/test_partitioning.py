"""The batched default partitioner (`dlq_tui/kafka/partitioning.py`) is aiokafka's murmur2, key for
key: property test over random keys, many of one length (the numpy path) and a few of others."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner, murmur2
from hypothesis import given, settings
from hypothesis import strategies as st

from dlq_tui.kafka.partitioning import default_partitions, murmur2_many


@settings(max_examples=200, deadline=None)
@given(
    same=st.integers(0, 40).flatmap(lambda n: st.lists(st.binary(min_size=n, max_size=n), max_size=60)),
    others=st.lists(st.binary(max_size=64), max_size=20),
)
def test_murmur2_many_is_murmur2(same: list[bytes], others: list[bytes]) -> None:
    keys = same + others + same[:3]
    assert murmur2_many(keys) == [murmur2(k) for k in keys]


@settings(max_examples=50, deadline=None)
@given(keys=st.lists(st.binary(min_size=12, max_size=12), min_size=10, max_size=200), n=st.integers(1, 50))
def test_default_partitions_as_the_default_partitioner(keys: list[bytes], n: int) -> None:
    partitions = list(range(n))
    partitioner = DefaultPartitioner()
    assert default_partitions(keys, partitions) == [partitioner(k, partitions, partitions) for k in keys]


def test_known_java_values() -> None:
    # Kafka's own test vectors (UtilsTest.testMurmur2), as signed Java ints.
    cases = {b"21": -973932308, b"foobar": -790332482, b"a-little-bit-long-string": -985981536}
    for key, java in cases.items():
        assert murmur2_many([key] * 10) == [java & 0xFFFFFFFF] * 10
