"""What the console does: runs, rounds, agents, ingestion. Pages and routes call these."""
