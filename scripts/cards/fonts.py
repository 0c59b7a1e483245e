"""The generator's fonts: committed files first, system fonts as fallback, Pillow's own font last.

Why committed fonts: a generated set must be byte-identical on every machine for the same seed, and a
fresh machine has no fonts at all. The files live in ``scripts/fonts/`` with their licences. If one is
missing the next in its chain is used and the label records which font was really drawn with, so a
benchmark never silently measures something else than it says.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from PIL import ImageFont

FONT_DIR = Path(__file__).resolve().parents[1] / "fonts"
SYSTEM_FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/ocr-a"))
FREEFONT_DIR = Path("/usr/share/fonts/truetype/freefont")


@dataclass(frozen=True)
class FontFace:
    """A named font and where to find it, most preferred file first."""

    name: str
    files: tuple[Path, ...]


# Digit faces for card numbers of the clean, moderate and hard levels: the two OCR faces real cards are
# embossed or printed in, plus the generic faces issuers use for flat-printed numbers.
DIGIT_FACES: tuple[FontFace, ...] = (
    FontFace("OCR-A", (FONT_DIR / "OCRA.ttf", Path("/usr/share/fonts/truetype/ocr-a/OCRA.ttf"))),
    FontFace("OCR-B", (FONT_DIR / "OCRB.otf", Path("/usr/share/fonts/opentype/ocr-b/OCRB.otf"))),
    FontFace(
        "DejaVu Sans Mono Bold",
        (FONT_DIR / "DejaVuSansMono-Bold.ttf", SYSTEM_FONT_DIRS[0] / "DejaVuSansMono-Bold.ttf"),
    ),
    FontFace(
        "DejaVu Sans Condensed Bold",
        (FONT_DIR / "DejaVuSansCondensed-Bold.ttf", SYSTEM_FONT_DIRS[0] / "DejaVuSansCondensed-Bold.ttf"),
    ),
    FontFace(
        "Liberation Mono Bold",
        (FONT_DIR / "LiberationMono-Bold.ttf", Path("/usr/share/fonts/truetype/liberation2/LiberationMono-Bold.ttf")),
    ),
)

# More faces for the "severe" level: training and threshold tuning may use these and the ones above.
TRAINING_EXTRA_FACES: tuple[FontFace, ...] = (
    FontFace("FreeMono Bold", (FONT_DIR / "FreeMonoBold.ttf", FREEFONT_DIR / "FreeMonoBold.ttf")),
    FontFace(
        "Liberation Serif Bold",
        (FONT_DIR / "LiberationSerif-Bold.ttf", Path("/usr/share/fonts/truetype/liberation/LiberationSerif-Bold.ttf")),
    ),
)
TRAINING_FACES: tuple[FontFace, ...] = DIGIT_FACES + TRAINING_EXTRA_FACES

# Still more faces, for the "varied" training level only: digit shapes no other level draws (a neo-grotesque, a
# humanist sans, a programmers' mono, a rounded humanist), so that the number head learns digits rather than faces.
VARIED_EXTRA_FACES: tuple[FontFace, ...] = (
    FontFace("Roboto Bold", (FONT_DIR / "Roboto-Bold.ttf",
                             Path("/usr/share/fonts/truetype/roboto/unhinted/RobotoTTF/Roboto-Bold.ttf"))),
    FontFace("Open Sans Bold", (FONT_DIR / "OpenSans-Bold.ttf",
                                Path("/usr/share/fonts/truetype/open-sans/OpenSans-Bold.ttf"))),
    FontFace("Fira Code Bold", (FONT_DIR / "FiraCode-Bold.ttf",
                                Path("/usr/share/fonts/truetype/firacode/FiraCode-Bold.ttf"))),
    FontFace("Cantarell Bold", (FONT_DIR / "Cantarell-Bold.otf",
                                Path("/usr/share/fonts/opentype/cantarell/Cantarell-Bold.otf"))),
)
VARIED_FACES: tuple[FontFace, ...] = TRAINING_FACES + VARIED_EXTRA_FACES

# Faces of the held-apart "heldout" level only: no card that trains or tunes the recognizer is drawn with them.
HELDOUT_FACES: tuple[FontFace, ...] = (
    FontFace(
        "DejaVu Serif Bold", (FONT_DIR / "DejaVuSerif-Bold.ttf", SYSTEM_FONT_DIRS[0] / "DejaVuSerif-Bold.ttf")
    ),
    FontFace("FreeSans Bold", (FONT_DIR / "FreeSansBold.ttf", FREEFONT_DIR / "FreeSansBold.ttf")),
    FontFace(
        "Liberation Sans Bold",
        (FONT_DIR / "LiberationSans-Bold.ttf", Path("/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf")),
    ),
)
ALL_DIGIT_FACES: tuple[FontFace, ...] = VARIED_FACES + HELDOUT_FACES

CJK_FACE = FontFace(
    "Droid Sans (CardCJK subset)",
    (FONT_DIR / "CardCJK-Subset.ttf", Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf")),
)
LABEL_FACE = FontFace(
    "DejaVu Sans Condensed Bold",
    (FONT_DIR / "DejaVuSansCondensed-Bold.ttf", SYSTEM_FONT_DIRS[0] / "DejaVuSansCondensed-Bold.ttf"),
)
PILLOW_DEFAULT = "Pillow default"


@dataclass(frozen=True)
class LoadedFont:
    """A font at one size, with the name of the face actually used."""

    name: str
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont


def load(face: FontFace, size: int) -> LoadedFont:
    """``face`` at ``size`` pixels; the first of its files that exists, else Pillow's built-in font."""
    return _load(face, int(size))


@functools.lru_cache(maxsize=256)
def _load(face: FontFace, size: int) -> LoadedFont:
    for path in face.files:
        if path.exists():
            return LoadedFont(face.name, ImageFont.truetype(str(path), size))
    return LoadedFont(PILLOW_DEFAULT, ImageFont.load_default(size))


def available_digit_faces() -> list[FontFace]:
    """The digit faces that can be loaded here, in preference order (never empty: Pillow's font remains)."""
    faces = [face for face in DIGIT_FACES if any(path.exists() for path in face.files)]
    return faces or [FontFace(PILLOW_DEFAULT, ())]


def cjk_available() -> bool:
    """True when a font with the bank names' Chinese glyphs is present."""
    return any(path.exists() for path in CJK_FACE.files)


def is_cjk(text: str) -> bool:
    """True when ``text`` has a CJK character (the CJK subset has no Latin glyphs, the Latin faces no CJK)."""
    return any(ord(char) >= 0x2E80 for char in text)


def text_face(text: str) -> FontFace:
    """The face to draw small print ``text`` with: the CJK subset for Chinese, the label face otherwise."""
    return CJK_FACE if is_cjk(text) and cjk_available() else LABEL_FACE
