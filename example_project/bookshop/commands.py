"""The bookshop's own manage commands: ``manage seed``."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import func, inspect, select

from bookshop.models import Author, Book, Loan, LoanStatus
from manage import Context, ManageError, command

SAMPLES = {
    "Ursula K. Le Guin": [("A Wizard of Earthsea", "9780553383041"), ("The Dispossessed", None)],
    "Octavia E. Butler": [("Kindred", "9780807083697")],
    "Terry Pratchett": [("Small Gods", "9780062237378"), ("Night Watch", None)],
}


@command()
def seed(
    ctx: Context,
    loans: Annotated[bool, typer.Option(help="Also lend two of the books.")] = True,
) -> tuple[int, int, int]:
    """Load sample authors, books and loans (once; a second run adds nothing)."""
    with ctx.engine.connect() as connection:
        if not inspect(connection).has_table("loan"):
            raise ManageError("The bookshop tables do not exist yet. Run 'manage migrate' first.")
    with ctx.session() as session, session.begin():
        if session.scalar(select(func.count()).select_from(Author)):
            typer.echo("The database has authors already; nothing seeded.")
            return (0, 0, 0)
        books = []
        for name, titles in SAMPLES.items():
            author = Author(name=name)
            books += [Book(title=title, isbn=isbn, author=author) for title, isbn in titles]
            session.add(author)
        lent = []
        if loans:  # a Loan made and not added would warn when its book is flushed
            lent = [
                Loan(book=books[0], borrower="Ged"),
                Loan(book=books[2], borrower="Dana", status=LoanStatus.RETURNED),
            ]
            session.add_all(lent)
        counts = (len(SAMPLES), len(books), len(lent))
    typer.echo(f"Seeded {counts[0]} authors, {counts[1]} books and {counts[2]} loans.")
    return counts
