"""The receiving side: the webhook route and delivery verification."""
