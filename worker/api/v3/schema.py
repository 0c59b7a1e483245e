"""BankCardOCR (API 3.0, version 2018-11-19): the request body, the answer, and the envelopes around them.

Every answer is ``{"Response": {...,"RequestId"}}``; a failure is ``{"Response": {"Error": {"Code", "Message"},
"RequestId"}}``, answered with HTTP 200 as the cloud does (the vendor's SDKs read no body from any other
status). The answer's fields are the legacy answer's five items under their 3.0 names, plus the 3.0-only
quality fields, which are present only when asked for.

>>> request = BankCardOcrRequest.model_validate({"ImageUrl": "https://x/card.jpg", "EnableQualityValue": True})
>>> request.ImageUrl, request.EnableCopyCheck
('https://x/card.jpg', False)
>>> error_envelope("InvalidAction", "no such action", "r-1")
{'Response': {'Error': {'Code': 'InvalidAction', 'Message': 'no such action'}, 'RequestId': 'r-1'}}
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr

from worker.api.legacy.schema import BankCardResponse, CardField

ACTION = "BankCardOCR"
VERSION = "2018-11-19"
SERVICE = "ocr"


class BankCardOcrRequest(BaseModel):
    """The request body; a field it does not know is ``UnknownParameter``, a wrong type ``InvalidParameter``."""

    model_config = ConfigDict(extra="forbid")

    ImageBase64: StrictStr | None = None
    ImageUrl: StrictStr | None = None
    RetBorderCutImage: StrictBool = False
    RetCardNoImage: StrictBool = False
    EnableCopyCheck: StrictBool = False
    EnableReshootCheck: StrictBool = False
    EnableBorderCheck: StrictBool = False
    EnableQualityValue: StrictBool = False

    def to_wire(self) -> dict[str, Any]:
        """The JSON body a client sends: only the fields that are set, as the vendor's SDKs send them."""
        return self.model_dump(exclude_defaults=True)


class BankCardOcrResponse(BaseModel):
    """The inner ``Response`` object of a success.

    Optional fields are None when not asked for (and then left out of the wire form); WarningCode is the list
    of warnings the enabled checks raised. CardCategory stays empty: the recognizer cannot tell a physical
    card from a screenshot of a banking app, and the answer does not pretend it can.
    """

    model_config = ConfigDict(extra="ignore")

    CardNo: str = ""
    BankInfo: str = ""
    ValidDate: str = ""
    CardType: str = ""
    CardName: str = ""
    CardCategory: str = ""
    BorderCutImage: str | None = None
    CardNoImage: str | None = None
    WarningCode: list[int] | None = None
    QualityValue: int | None = None
    RequestId: str = ""

    @classmethod
    def from_legacy(cls, answer: BankCardResponse, request_id: str) -> BankCardOcrResponse:
        """The 3.0 fields of a code-0 legacy answer."""
        return cls(CardNo=answer.value(CardField.CARD_NUMBER), BankInfo=answer.value(CardField.BANK_INFO),
                   ValidDate=answer.value(CardField.EXPIRY), CardType=answer.value(CardField.CARD_KIND),
                   CardName=answer.value(CardField.CARD_NAME), RequestId=request_id)

    def to_wire(self) -> dict[str, Any]:
        """The inner object, without the fields nobody asked for."""
        return self.model_dump(exclude_none=True)

    def envelope(self) -> dict[str, Any]:
        return {"Response": self.to_wire()}


def error_envelope(code: str, message: str, request_id: str) -> dict[str, Any]:
    return {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": request_id}}
