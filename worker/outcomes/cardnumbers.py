"""Card numbers at rest: kept in full, masked, or masked plus a keyed hash (``outcomes.card_number``).

PCI DSS lets a primary account number be stored only truncated, hashed with a key, or encrypted. ``masked``
keeps the first 6 and last 4 digits (the issuer and the tail a person recognises); ``hmac`` keeps the same
and adds HMAC-SHA256 of the digits under ``outcomes.card_number_key``, so equal numbers still join across
runs and tables while the key stays with its owner. ``full`` stores the API's answer as it came.

Both answer shapes are covered: the legacy API's 卡号 item, and API 3.0's ``CardNo``, whose pictures of the
card (``CardNoImage``, ``BorderCutImage``) show the number too and are dropped unless the policy is ``full``.

The protection is idempotent: an already masked number (it holds ``*``) is left as it is, so a store written
``masked`` exports ``masked`` whatever the exporter's policy, and a ``full`` store exported ``hmac`` gets its
hashes then.

>>> protector = CardNumberProtector("hmac", key=b"k" * 32)
>>> masked, digest = protector.protect_number("6222020200112233445")
>>> masked, digest[:12]
('622202*********3445', '3b31057d77a3')
>>> CardNumberProtector("masked").protect_number("6222020200112233445")
('622202*********3445', None)
"""

from __future__ import annotations

import copy
import enum
import hashlib
import hmac
from typing import TYPE_CHECKING, Any

from worker.api.legacy.schema import CardField
from worker.observability import mask_card_number

if TYPE_CHECKING:
    from worker.tasks import Result


class CardNumberPolicy(enum.StrEnum):
    FULL = "full"
    MASKED = "masked"
    HMAC = "hmac"


class CardNumberProtector:
    """Applies one :class:`CardNumberPolicy` to results before they are stored or exported.

    Parameters:
        policy: ``full``, ``masked`` or ``hmac``.
        key: the HMAC key (required for ``hmac``; at least 16 bytes).
    """

    def __init__(self, policy: CardNumberPolicy | str = CardNumberPolicy.FULL, key: bytes | None = None) -> None:
        self.policy = CardNumberPolicy(policy)
        if self.policy is CardNumberPolicy.HMAC and (key is None or len(key) < 16):
            raise ValueError("outcomes.card_number: hmac needs outcomes.card_number_key (16 bytes or more)")
        self._key = key

    def __repr__(self) -> str:  # never the key
        return f"CardNumberProtector({self.policy.value!r})"

    def digest(self, digits: str) -> str:
        """Hex HMAC-SHA256 of the number's digits (spaces and dashes ignored)."""
        if self._key is None:
            raise ValueError("no card_number_key")
        return hmac.new(self._key, _digits(digits).encode("ascii"), hashlib.sha256).hexdigest()

    def protect_number(self, number: str) -> tuple[str, str | None]:
        """(the number as stored, its HMAC or None) under this policy."""
        if self.policy is CardNumberPolicy.FULL or not number or "*" in number:
            return number, None
        digits = _digits(number)
        if not digits:
            return number, None
        masked = mask_card_number(digits)
        return masked, (self.digest(digits) if self.policy is CardNumberPolicy.HMAC else None)

    def protect_response(self, response: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """A copy of an API answer with its card number protected, and the number's HMAC (or None)."""
        if self.policy is CardNumberPolicy.FULL:
            return response, None
        if "CardNo" in response:
            stored, digest = self.protect_number(str(response.get("CardNo") or ""))
            protected = {k: v for k, v in response.items() if k not in _PICTURES_OF_THE_NUMBER}
            protected["CardNo"] = stored
            return protected, digest
        items = (response.get("data") or {}).get("items") or []
        index = next((i for i, item in enumerate(items)
                      if isinstance(item, dict) and item.get("item") == CardField.CARD_NUMBER.value), None)
        if index is None:
            return response, None
        stored, digest = self.protect_number(str(items[index].get("itemstring") or ""))
        protected = copy.deepcopy(response)
        protected["data"]["items"][index]["itemstring"] = stored
        return protected, digest

    def protect(self, result: Result) -> Result:
        """The result as this policy stores it (the same object when nothing changes)."""
        if self.policy is CardNumberPolicy.FULL:
            return result
        response, digest = self.protect_response(result.response)
        if response == result.response:
            return result
        return result.model_copy(update={"response": response,
                                         "card_number_hmac": digest or result.card_number_hmac})


#: API 3.0 answer fields that picture the card, number included.
_PICTURES_OF_THE_NUMBER = frozenset({"CardNoImage", "BorderCutImage"})

#: Stores opened without settings keep numbers as the API answered them.
KEEP_FULL = CardNumberProtector(CardNumberPolicy.FULL)


def _digits(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())
