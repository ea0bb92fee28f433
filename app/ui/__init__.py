"""The console's pages: thin layouts over services."""
