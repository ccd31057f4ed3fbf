"""dlq-tui: triage a Kafka dead letter queue — merge, purge or skip, committed in one transaction."""

__version__ = "0.1.0"
