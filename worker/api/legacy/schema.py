"""The response body of the legacy bank-card API, as typed models.

The recognizer builds these, the server serialises them, the client parses them, and the pipeline
stores them: one definition keeps all four byte-compatible with the seed's example. A successful answer
always holds the five fields in the seed's order; a field whose value is unknown is present with an empty
``itemstring`` and ``itemconf`` 0, so clients can rely on five items.

>>> resp = BankCardResponse.success("s1", [Item(item="卡号", itemstring="6225760000000000")])
>>> [i.item for i in resp.data.items]
['卡号', '卡类型', '卡名字', '银行信息', '有效期']
"""

from __future__ import annotations

import enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from worker.api.legacy import codes


class CardField(enum.StrEnum):
    """The five item names, in the order the API answers them."""

    CARD_NUMBER = "卡号"
    CARD_KIND = "卡类型"
    CARD_NAME = "卡名字"
    BANK_INFO = "银行信息"
    EXPIRY = "有效期"

FIELD_ORDER: tuple[str, ...] = tuple(f.value for f in CardField)


class ItemCoord(BaseModel):
    """A field's box in the original image's pixels (left, top, width, height)."""

    model_config = ConfigDict(extra="ignore")

    x: int = 0
    y: int = 0
    width: int = 0
    height: int = 0


class Item(BaseModel):
    """One recognised field. ``coords``, ``words`` and ``candword`` are kept (empty) for compatibility."""

    model_config = ConfigDict(extra="ignore")

    item: str
    itemcoord: ItemCoord = Field(default_factory=ItemCoord)
    itemconf: float = 0.0
    itemstring: str = ""
    coords: list[Any] = Field(default_factory=list)
    words: list[Any] = Field(default_factory=list)
    candword: list[Any] = Field(default_factory=list)


class ResponseData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    session_id: str = ""
    items: list[Item] = Field(default_factory=list)


class BankCardResponse(BaseModel):
    """The whole answer: ``code`` 0 with five items, or an error code with a message and no items."""

    model_config = ConfigDict(extra="ignore")

    code: int
    message: str
    data: ResponseData = Field(default_factory=ResponseData)

    @classmethod
    def success(cls, session_id: str, items: list[Item]) -> BankCardResponse:
        """Build a success answer; missing fields are filled as empty items and order is normalised."""
        by_name = {item.item: item for item in items}
        unknown = set(by_name) - set(FIELD_ORDER)
        if unknown:
            raise ValueError(f"unknown item names: {sorted(unknown)}")
        ordered = [by_name.get(name) or Item(item=name) for name in FIELD_ORDER]
        return cls(code=codes.OK, message=codes.message_for(codes.OK),
                   data=ResponseData(session_id=session_id, items=ordered))

    @classmethod
    def failure(cls, code: int, message: str | None = None, session_id: str = "") -> BankCardResponse:
        if code == codes.OK:
            raise ValueError("a failure needs a non-zero code")
        return cls(code=code, message=message or codes.message_for(code),
                   data=ResponseData(session_id=session_id))

    @property
    def ok(self) -> bool:
        return self.code == codes.OK

    def field(self, name: str | CardField) -> Item | None:
        """The item called ``name``, or None when the answer has no such item."""
        key = name.value if isinstance(name, CardField) else name
        return next((i for i in self.data.items if i.item == key), None)

    def value(self, name: str | CardField) -> str:
        """The item's string, "" when absent."""
        found = self.field(name)
        return found.itemstring if found else ""

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict, exactly the seed's shape."""
        return self.model_dump(mode="json")
