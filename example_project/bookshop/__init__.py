"""A small lending library: authors, books and loans."""
