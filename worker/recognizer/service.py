"""The recognizer: image bytes in, the legacy API's bank-card answer out.

This is the one entry point the pipeline's local upstream and ``cardpipe serve`` call. It never raises for
bad input: every refusal becomes the API's failure answer with its code and a reason.

>>> recognizer = get_recognizer(RecognizerSettings(threads=2))          # doctest: +SKIP
>>> answer = recognizer.recognize(open("card.jpg", "rb").read())       # doctest: +SKIP
>>> answer.code, answer.value("卡号"), answer.value("有效期")             # doctest: +SKIP
(0, '6225760000000008', '08/2028')
"""

from __future__ import annotations

import threading
import uuid

import numpy as np

from worker.api.legacy import codes
from worker.api.legacy.schema import BankCardResponse, CardField, Item, ItemCoord
from worker.observability import get_logger, mask_digits_in_text
from worker.recognizer.bins import BinTable, default_table, luhn_valid
from worker.recognizer.cardnumber import NumberDecision
from worker.recognizer.engine import OcrEngine
from worker.recognizer.errors import RecognitionFailed, RecognizerError
from worker.recognizer.expiry import ExpiryDecision
from worker.recognizer.expiryreads import read_expiry
from worker.recognizer.geometry import View
from worker.recognizer.imageio import decode_image
from worker.recognizer.reader import CardReading, read_card
from worker.recognizer.settings import RecognizerSettings

log = get_logger("recognizer")


class Recognizer:
    """Reads bank cards with one shared OCR engine and BIN table; safe to call from many threads.

    Parameters:
        engine: the loaded OCR models.
        bins: the BIN table used to check numbers and fill the bank fields.
        settings: working resolution and size guard.
    """

    def __init__(self, engine: OcrEngine, bins: BinTable, settings: RecognizerSettings) -> None:
        self.engine = engine
        self.bins = bins
        self.settings = settings

    @classmethod
    def from_settings(cls, settings: RecognizerSettings | None = None) -> Recognizer:
        """Load the models and the BIN table (the official one merged over the shipped one when named)."""
        settings = settings or RecognizerSettings()
        bins = default_table()
        if settings.bin_table is not None:
            bins = BinTable.from_unionpay_csv(settings.bin_table, base=bins)
        return cls(OcrEngine.load(threads=settings.session_threads), bins, settings)

    def acceptable(self, number: str) -> bool:
        """A number the recognizer may answer: it passes Luhn and an issuer prints that prefix and length."""
        return luhn_valid(number) and self.bins.plausible(number)

    def recognize(self, data: bytes, *, session_id: str | None = None) -> BankCardResponse:
        """Read one card photo and answer as the legacy API does.

        Parameters:
            data: the image bytes (JPEG, PNG, BMP, GIF, WebP or TIFF).
            session_id: echoed in the answer; a fresh unique id when None.

        Returns:
            ``BankCardResponse.success`` with the five items, or ``BankCardResponse.failure`` with -1300
            (empty), -1102 (not a decodable still image, or too many pixels), -9010 (too small to hold a
            card) or -9011 (no card number passed Luhn and the issuer check).
        """
        session = session_id or uuid.uuid4().hex
        try:
            return self._recognize(data, session)
        except RecognizerError as exc:
            log.info("recognition refused", code=exc.code, reason=exc.message)
            return BankCardResponse.failure(exc.code, exc.message, session_id=session)
        except Exception as exc:  # a defect must still answer, not crash a server thread
            reason = mask_digits_in_text(f"{type(exc).__name__}: {exc}")
            log.error("recognizer internal error", error=reason, exc_info=True)
            return BankCardResponse.failure(codes.SERVER_INTERNAL_ERROR, f"internal error: {reason}",
                                            session_id=session)

    def _recognize(self, data: bytes, session: str) -> BankCardResponse:
        image = decode_image(data, max_side=self.settings.max_side, max_pixels=self.settings.max_pixels)
        bgr = np.ascontiguousarray(image.pixels[:, :, ::-1])
        reading = read_card(self.engine, bgr, scale=image.scale, original_size=image.original_size,
                            acceptable=self.acceptable)
        if reading.number is None:
            raise RecognitionFailed(reading.failure or "no card number passed the Luhn and issuer checks")
        expiry = read_expiry(self.engine, reading.view, list(reading.boxes), reading.number_quad)
        return BankCardResponse.success(session, self._items(reading.view, reading.number, reading, expiry))

    def _items(self, view: View, number: NumberDecision, reading: CardReading,
               expiry: ExpiryDecision | None) -> list[Item]:
        number_box = ItemCoord(**dict(zip(("x", "y", "width", "height"), view.to_original(reading.number_quad),
                                          strict=True)))
        items = [Item(item=CardField.CARD_NUMBER, itemstring=number.number, itemconf=number.conf,
                      itemcoord=number_box)]
        record = self.bins.lookup(number.number)
        if record is not None:
            for field, value in ((CardField.CARD_KIND, record.card_kind), (CardField.CARD_NAME, record.card_name),
                                 (CardField.BANK_INFO, record.bank_info)):
                if value:
                    items.append(Item(item=field, itemstring=value, itemconf=number.conf,
                                      itemcoord=number_box.model_copy()))
        if expiry is not None:
            box = view.to_original(expiry.quad)
            items.append(Item(item=CardField.EXPIRY, itemstring=expiry.text, itemconf=expiry.conf,
                              itemcoord=ItemCoord(x=box[0], y=box[1], width=box[2], height=box[3])))
        return items


_loaded: dict[str, Recognizer] = {}
_loaded_lock = threading.Lock()


def get_recognizer(settings: RecognizerSettings | None = None) -> Recognizer:
    """The process-wide recognizer, created (models loaded) on first call.

    Parameters:
        settings: the settings to load with. None returns the recognizer already loaded, if any (so the
            pipeline and the server share one), else loads one with the defaults. Each distinct settings
            value gets its own recognizer, loaded once.

    >>> recognizer = get_recognizer()                       # doctest: +SKIP
    >>> recognizer.recognize(b"").code                      # doctest: +SKIP
    -1300
    """
    with _loaded_lock:
        if settings is None:
            if _loaded:
                return next(iter(_loaded.values()))
            settings = RecognizerSettings()
        key = settings.model_dump_json()
        found = _loaded.get(key)
        if found is None:
            found = _loaded[key] = Recognizer.from_settings(settings)
        return found
