"""A small shop used by the tests."""
