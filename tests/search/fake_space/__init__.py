"""Fake generated space for the search tests."""
