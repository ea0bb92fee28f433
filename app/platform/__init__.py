"""The client for the platform's execution API."""
