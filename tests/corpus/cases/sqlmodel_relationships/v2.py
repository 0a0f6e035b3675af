# ruff: noqa: UP045  (SQLModel's documented Optional[...] spelling, on purpose)
from typing import Optional

from sqlmodel import Field, Relationship, SQLModel


class HeroMissionLink(SQLModel, table=True):
    hero_id: Optional[int] = Field(default=None, foreign_key="hero.id", primary_key=True)
    mission_id: Optional[int] = Field(default=None, foreign_key="mission.id", primary_key=True)


class Team(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    headquarters: str
    heroes: list["Hero"] = Relationship(back_populates="team")


class Mission(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    title: str = Field(max_length=80)
    heroes: list["Hero"] = Relationship(back_populates="missions", link_model=HeroMissionLink)


class Hero(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    secret_name: str
    age: Optional[int] = None
    power: Optional[str] = Field(default=None, max_length=40)
    team_id: Optional[int] = Field(default=None, foreign_key="team.id", ondelete="SET NULL")
    team: Optional[Team] = Relationship(back_populates="heroes")
    missions: list[Mission] = Relationship(back_populates="heroes", link_model=HeroMissionLink)


ROWS = {
    "hero": [{"id": 1, "name": "Deadpond", "secret_name": "Dive Wilson", "age": 30, "team_id": 1}],
}
