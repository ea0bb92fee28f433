"""Running scripted tool handlers: static answers, rules with templates, Python snippets in a sandbox."""
