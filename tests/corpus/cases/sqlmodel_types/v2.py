import datetime
import enum
import uuid
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Column, Field, SQLModel


class Size(str, enum.Enum):
    small = "small"
    large = "large"
    huge = "huge"


class Item(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: uuid.UUID = Field(default_factory=uuid.uuid4, unique=True)
    name: str = Field(max_length=60)
    description: str = Field(default="", sa_column_kwargs={"server_default": ""})
    price: Decimal = Field(max_digits=8, decimal_places=2)
    weight: float = 0.0
    in_stock: bool = True
    size: Size = Size.small
    added_on: datetime.date
    updated_at: datetime.datetime | None = None
    blob: bytes | None = None
    extra: dict | None = Field(default=None, sa_column=Column(sa.JSON))
