"""Tooldesk: a console that answers an agent platform's tool calls by hand or by script."""
