"""Kafka I/O: the snapshot reader, the resolution offsets and the transactional committer."""
