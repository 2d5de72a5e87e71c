"""Plumbing every service shares: settings, database, outbox and inbox, Kafka,
object storage, authentication and the HTTP error format."""
