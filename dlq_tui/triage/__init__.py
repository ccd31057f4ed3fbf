"""The triage engine core: record store, decisions, staged buffer, journal, filters. No Kafka, no Textual."""
