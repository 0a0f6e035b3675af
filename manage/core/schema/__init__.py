"""The schema at any revision, without a database (``manage schema``): the history replayed in
memory up to a revision, written as DDL, compared between two revisions, blamed, drawn."""
