"""SQLModel field types: AutoString with and without max_length, numbers, Decimal, dates, UUID,
bytes, a Python enum, JSON through ``sa_column``; v2 widens a string, makes a field required
with a server default, and adds an enum value."""

import datetime
import enum
import uuid
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Column, Field, SQLModel


class Size(str, enum.Enum):
    small = "small"
    large = "large"


class Item(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: uuid.UUID = Field(default_factory=uuid.uuid4, unique=True)
    name: str = Field(max_length=30)
    description: str | None = None
    price: Decimal = Field(max_digits=8, decimal_places=2)
    weight: float = 0.0
    in_stock: bool = True
    size: Size = Size.small
    added_on: datetime.date
    updated_at: datetime.datetime | None = None
    blob: bytes | None = None
    extra: dict | None = Field(default=None, sa_column=Column(sa.JSON))


MODELS = "SQLModel"
ROWS = {
    "item": [
        {
            "id": 1,
            "code": uuid.UUID("12345678-1234-5678-1234-567812345678"),
            "name": "lamp",
            "price": Decimal("12.50"),
            "weight": 1.5,
            "in_stock": True,
            "size": Size.large,
            "added_on": datetime.date(2024, 1, 2),
        }
    ],
}
