# ruff: noqa: UP045  (SQLModel's documented Optional[...] spelling, on purpose)
"""SQLModel models (``table=True``): Optional fields, a relationship, ``str`` fields as SQLModel's
``AutoString``, indexed fields; v2 adds a many-to-many link model and a column, and drops an
index."""

from typing import Optional

from sqlmodel import Field, Relationship, SQLModel


class Team(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    headquarters: str
    heroes: list["Hero"] = Relationship(back_populates="team")


class Hero(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    secret_name: str
    age: Optional[int] = Field(default=None, index=True)
    team_id: Optional[int] = Field(default=None, foreign_key="team.id")
    team: Optional[Team] = Relationship(back_populates="heroes")


MODELS = "SQLModel"
ROWS = {
    "team": [{"id": 1, "name": "Preventers", "headquarters": "Sharp Tower"}],
    "hero": [{"id": 1, "name": "Deadpond", "secret_name": "Dive Wilson", "age": 30, "team_id": 1}],
}
