"""Local services for development and tests: Kafka (KRaft) and PostgreSQL, topic definitions."""
