"""One log stream, with card numbers masked and huge values bounded on the way out.

Every log record of the process — cardpipe's own structlog events and the stdlib records of httpx, uvicorn,
kombu, PIL, botocore and the rest — goes through the same processors and one renderer
(:class:`structlog.stdlib.ProcessorFormatter`): readable lines on a terminal, JSON lines otherwise. Lines are
written through the rich console that also draws the progress bar, so a log line never glues onto the bar.

A card number is the product in a result and a liability everywhere else. Rather than trusting every call
site, the renderer is preceded by a processor that masks whatever can be a card number — a Luhn-valid run of
13–19 digits standing alone, also with spaces or dashes between groups — in every value, so a number that
slips into an error message is still masked. Digit runs inside identifiers (hex task ids) are left whole so
that a log line can always be matched to its outcome file.

>>> mask_card_number("6225760000001235")
'622576******1235'
>>> mask_digits_in_text("card 6225 7600 0000 1235 failed, task f4ab477526000007702cb0b8af60a456")
'card 622576******1235 failed, task f4ab477526000007702cb0b8af60a456'
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from functools import cache
from typing import Any

import structlog
from rich.console import Console
from rich.text import Text

from worker.recognizer.bins import luhn_valid

#: Longest rendering of one log value; longer ones are cut, with their full size noted.
MAX_VALUE_CHARS = 4096
#: ``--log-format`` choices: ``auto`` is ``console`` on a terminal and ``json`` otherwise.
LOG_FORMATS = ("auto", "console", "json")

#: Runs of digits with single spaces or dashes between groups, not glued to ASCII letters or digits.
_DIGIT_RUN = re.compile(r"(?<![0-9A-Za-z])[0-9]+(?:[ -][0-9]+)*(?![0-9A-Za-z])")
_SEPARATOR = re.compile(r"[ -]")

#: Libraries whose INFO lines are per-request or per-file chatter: shown only at DEBUG.
_CHATTY_LOGGERS = ("httpx", "httpcore", "botocore", "boto3", "s3transfer", "urllib3", "PIL", "multipart",
                   "python_multipart", "asyncio", "amqp", "kombu")


def could_be_card_number(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and luhn_valid(digits)


def mask_card_number(number: str) -> str:
    """Keep the first 6 and last 4 digits, star the rest; short values are starred whole."""
    digits = re.sub(r"[^0-9]", "", number)
    if len(digits) < 13:
        return "*" * len(digits)
    return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]


def _mask_run(match: re.Match[str]) -> str:
    run = match.group(0)
    groups = _SEPARATOR.split(run)
    if could_be_card_number("".join(groups)):
        return mask_card_number(run)
    if len(groups) == 1:
        return run
    # Grouped digits longer than a card (a number followed by a count, say): mask any window of whole groups
    # that is a card number, leaving the rest as written.
    separators = _SEPARATOR.findall(run)
    out: list[str] = []
    start = 0
    while start < len(groups):
        for end in range(len(groups), start, -1):
            if end - start > 1 and could_be_card_number("".join(groups[start:end])):
                out.append(mask_card_number("".join(groups[start:end])))
                start = end
                break
        else:
            out.append(groups[start])
            start += 1
        if start < len(groups):
            out.append(separators[start - 1])
    return "".join(out)


def mask_digits_in_text(text: str) -> str:
    """Mask every run of digits in ``text`` that can be a card number; leave ids and other numbers whole."""
    return _DIGIT_RUN.sub(_mask_run, text)


def bound_text(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    """``text``, or its first ``limit`` characters and a note of its full size."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [truncated: {len(text)} chars]"


#: Characters read past a cut so that a card number running through it is masked whole before the cut is made
#: (19 digits and their separators, with room to spare).
_STRADDLE_CHARS = 64


def public_text(content: str | bytes, limit: int) -> str:
    """``content`` fit to go into an error or a dead letter: card numbers masked, then cut to ``limit``
    characters with its full size noted.

    Why mask before cutting: a cut through a card number leaves a shorter digit run, which no longer looks like
    a card number and would go out unmasked, more than its first six digits with it. Only the part that can
    show is decoded and masked, so an 8 MB body costs no more than its first few hundred characters.
    """
    if isinstance(content, bytes):
        size = f"{len(content)} bytes"
        text = content[: 4 * limit + _STRADDLE_CHARS].decode("utf-8", "replace")
        whole = len(content) <= 4 * limit + _STRADDLE_CHARS
    else:
        size = f"{len(content)} characters"
        text = content[: limit + _STRADDLE_CHARS]
        whole = len(content) <= limit + _STRADDLE_CHARS
    masked = mask_digits_in_text(text.strip())
    if whole and len(masked) <= limit:
        return masked
    return f"{masked[:limit]}... ({size} in all)"


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_digits_in_text(value)
    if isinstance(value, Mapping):
        return {k: _mask_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_mask_value(v) for v in value)
    if isinstance(value, BaseException):
        return mask_digits_in_text(f"{type(value).__name__}: {value}")
    return value


def mask_card_numbers(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: mask card numbers in every value of the event."""
    return {key: _mask_value(value) for key, value in event_dict.items()}


def bound_values(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: no value renders longer than :data:`MAX_VALUE_CHARS` (an 8 MB message stays a line)."""
    for key, value in event_dict.items():
        if isinstance(value, str):
            event_dict[key] = bound_text(value)
        elif isinstance(value, Mapping | list | tuple):
            shown = repr(value)
            if len(shown) > MAX_VALUE_CHARS:
                event_dict[key] = bound_text(shown)
    return event_dict


def _component_from_logger_name(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A stdlib record (httpx, kombu, ...) is labelled with its logger's name, as cardpipe's are with theirs."""
    record = event_dict.get("_record")
    if record is not None and "component" not in event_dict:
        event_dict["component"] = record.name
    return event_dict


@cache
def stderr_console() -> Console:
    """The one rich console on stderr, shared by the progress bar and the log handler."""
    return Console(stderr=True)


class ConsoleLogHandler(logging.Handler):
    """Writes each formatted line to stderr; on a terminal through the shared rich console.

    Why: while a rich progress bar is live, anything written to stderr behind rich's back lands in the middle
    of the bar's line. Printing through the same console makes rich put the line above the bar.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            console = stderr_console()
            if console.is_terminal:
                console.print(Text(line), soft_wrap=True, highlight=False)
            else:
                stream = sys.stderr
                stream.write(line + "\n")
                stream.flush()
        except BrokenPipeError:
            pass
        except Exception:
            self.handleError(record)


def wants_json(log_format: str = "auto") -> bool:
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)} (got {log_format!r})")
    return log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())


def configure_logging(level: str = "INFO", *, log_format: str = "auto", json: bool | None = None) -> None:
    """Route every logger of the process through cardpipe's processors and one renderer on stderr.

    Logs go to stderr so that commands which print results on stdout stay machine-readable. Calling it again
    replaces the previous configuration (tests do).

    Parameters:
        level: DEBUG, INFO, WARNING or ERROR; per-request lines of HTTP and storage clients show only at DEBUG.
        log_format: ``console`` (readable), ``json`` (one object per line) or ``auto`` (console on a terminal).
        json: True or False overrides ``log_format`` with ``json`` or ``console``.
    """
    if json is not None:
        log_format = "json" if json else "console"
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    renderer: Any = structlog.processors.JSONRenderer(ensure_ascii=False) if wants_json(log_format) else \
        structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    stamped: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*stamped, _component_from_logger_name],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            mask_card_numbers,
            bound_values,
            renderer,
        ],
    )
    handler = ConsoleLogHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, ConsoleLogHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO if numeric <= logging.DEBUG else max(numeric, logging.WARNING))
    own = logging.getLogger("cardpipe")
    structlog.configure(
        processors=[*stamped, structlog.processors.format_exc_info,
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        # One fixed stdlib logger: the default factory would walk the stack to name a logger on every call.
        logger_factory=lambda *_args: own,
        cache_logger_on_first_use=False,
    )


def get_logger(name: str | None = None, **bound: Any) -> Any:
    """A structlog logger bound to ``component=name``."""
    if name:
        bound = {"component": name, **bound}
    # A lazy proxy: a module-level logger made before configure_logging() still follows the configuration.
    return structlog.get_logger(**bound)
