"""What one synthetic card looks like, decided up front from a seeded random generator.

Why a spec separate from drawing: the label file must say exactly what was drawn (number, expiry, font,
style, degradations), and tests and benchmarks slice results by those fields. Sampling everything into a
frozen spec first, then rendering from it, keeps the two in step by construction.

Levels say how hard the photo is, in the ways real photos are hard:

- ``clean``: flat print, upright, sharp, plain background;
- ``moderate``: some foil and embossing, small rotation, mild perspective, background, blur, noise, JPEG
  60-85, some cards photographed sideways or upside down;
- ``hard``: mostly embossed digits in the card's own colour (or worn foil), glare over the number, shadow,
  motion blur, strong perspective, small card in a large frame, JPEG 40-70, low light, wear;
- ``severe``: hard in every way a second generator's hard cards and real photos were seen to be: raised
  plastic in the card's colour without foil, glare, gaussian and motion blur on every card, the whole card
  only 380-800 px wide, rotation up to 14 degrees, low contrast, JPEG 35-65, 19-digit numbers (6+13 or no
  spaces), more faces, expiry printed MM/YY, MM/YYYY, YYYY/MM or YY/MM, sometimes as a valid-from-thru range.
  Training data and threshold tuning may use it (and the three levels above);
- ``varied``: a training level, ``severe`` drawn more widely: four more faces (:data:`fonts.VARIED_EXTRA_FACES`,
  drawn by no other level), wider ranges of blur, motion, relief, contrast, card size and JPEG quality, and
  more glare: training data with more kinds of digits than the levels the recognizer is judged on (the
  shipped number head was not trained on it; ``scripts/train/number_reader.py`` says why);
- ``relit``: a training level, ``severe`` with each card's embossing lit from its own direction, anywhere
  around the card except within 30 degrees of the held-apart level's top right: the other levels light every
  card from the top left, and readers trained on them learn that light (on the same embossed cards lit from
  the top right instead, the number head read 11 of 41 lines where it read 20);
- ``heldout``: the EVALUATION level, never used for training or tuning. Hard in the same ways but drawn by
  different means, as another generator would: its own faces (:data:`fonts.HELDOUT_FACES`, used by no other
  level), embossing lit from the top right instead of the top left, a hard-edged saturated glare spot instead
  of a soft one, motion blur drawn as a line kernel, contrast squeezed around the image's mean, its own
  labels (有效期至, none at all), cards 350-730 px wide, blur sigma 0.6-1.8, motion 7-11 px, contrast
  0.6-0.95, JPEG 31-60.

The first three levels draw exactly what they drew before ``severe`` and ``heldout`` existed: every new
choice is drawn from the random generator only by the levels that use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np

from scripts.cards import fonts
from scripts.cards.numbers import BinPools, CardNumber, PrintedDate, earlier_date, expiry_date, mint
from scripts.cards.text import CARD_SLOGANS, DISTRACTOR_LABELS, EXPIRY_LABELS, GIVEN_NAMES, SURNAMES
from worker.recognizer.bins import BinTable

LEVELS = ("clean", "moderate", "hard")
#: Every level; "mixed" draws among :data:`LEVELS` only.
ALL_LEVELS = (*LEVELS, "severe", "varied", "relit", "heldout")
#: Levels whose cards may train the number head or tune thresholds; "heldout" never may.
TRAINING_LEVELS = (*LEVELS, "severe", "varied", "relit")
CARD_WIDTH = 856  # the ISO ID-1 card (85.60 x 53.98 mm) at 10 px/mm
CARD_HEIGHT = 540
RGB = tuple[int, int, int]
T = TypeVar("T")


@dataclass(frozen=True)
class LevelProfile:
    """How a level degrades a card; ranges are sampled uniformly per card."""

    styles: dict[str, float]
    max_tilt_deg: float
    right_angle_share: float
    perspective: float
    card_fill: tuple[float, float]
    blur_sigma: tuple[float, float]
    motion_blur_share: float
    motion_length: tuple[int, int]
    noise_sigma: tuple[float, float]
    jpeg_quality: tuple[int, int]
    glare_share: float
    glare_strength: tuple[float, float]
    shadow_share: float
    low_light_share: float
    emboss_relief: tuple[float, float]
    wear: tuple[float, float]
    busy_background: bool
    art_behind_digits_share: float
    max_severe: int
    digit_faces: tuple[fonts.FontFace, ...] = fonts.DIGIT_FACES
    expiry_labels: tuple[tuple[str, ...], ...] = EXPIRY_LABELS
    date_forms: tuple[tuple[str, float], ...] = (("MM/YY", 1.0),)
    date_range_share: float = 0.0
    range_separators: tuple[str, ...] = ("-",)
    nineteen_share: float | None = None
    card_width_px: tuple[int, int] | None = None
    contrast: tuple[float, float] | None = None
    contrast_around_mean: bool = False
    glare_kind: str = "soft"
    light_from_right: bool = False
    #: When set, each card's light comes from its own direction drawn uniformly in this range (degrees
    #: counterclockwise from the card's right: 90 is the top, 135 the top left; the upper end may pass 360),
    #: in place of the fixed top left or top right.
    light_azimuth_deg: tuple[float, float] | None = None
    motion_kernel: str = "rotated"


PROFILES: dict[str, LevelProfile] = {
    "clean": LevelProfile(
        styles={"flat": 1.0},
        max_tilt_deg=0.0,
        right_angle_share=0.0,
        perspective=0.0,
        card_fill=(0.80, 0.92),
        blur_sigma=(0.0, 0.0),
        motion_blur_share=0.0,
        motion_length=(1, 1),
        noise_sigma=(0.0, 1.0),
        jpeg_quality=(90, 95),
        glare_share=0.0,
        glare_strength=(0.0, 0.0),
        shadow_share=0.0,
        low_light_share=0.0,
        emboss_relief=(0.6, 0.8),
        wear=(0.0, 0.0),
        busy_background=False,
        art_behind_digits_share=0.3,
        max_severe=0,
    ),
    "moderate": LevelProfile(
        styles={"flat": 0.5, "foil": 0.3, "embossed": 0.2},
        max_tilt_deg=8.0,
        right_angle_share=0.2,
        perspective=0.035,
        card_fill=(0.60, 0.85),
        blur_sigma=(0.3, 1.1),
        motion_blur_share=0.15,
        motion_length=(3, 5),
        noise_sigma=(2.0, 6.0),
        jpeg_quality=(60, 85),
        glare_share=0.2,
        glare_strength=(0.25, 0.45),
        shadow_share=0.2,
        low_light_share=0.1,
        emboss_relief=(0.45, 0.7),
        wear=(0.0, 0.3),
        busy_background=True,
        art_behind_digits_share=0.6,
        max_severe=2,
    ),
    "hard": LevelProfile(
        styles={"embossed": 0.45, "foil": 0.4, "flat": 0.15},
        max_tilt_deg=12.0,
        right_angle_share=0.25,
        perspective=0.08,
        card_fill=(0.38, 0.72),
        blur_sigma=(0.4, 1.4),
        motion_blur_share=0.45,
        motion_length=(4, 8),
        noise_sigma=(3.0, 9.0),
        jpeg_quality=(40, 70),
        glare_share=0.6,
        glare_strength=(0.35, 0.7),
        shadow_share=0.5,
        low_light_share=0.35,
        emboss_relief=(0.3, 0.55),
        wear=(0.3, 0.9),
        busy_background=True,
        art_behind_digits_share=0.85,
        max_severe=2,
    ),
    "severe": LevelProfile(
        styles={"embossed": 0.55, "foil": 0.25, "flat": 0.2},
        max_tilt_deg=14.0,
        right_angle_share=0.2,
        perspective=0.06,
        card_fill=(0.5, 0.85),
        blur_sigma=(0.5, 1.6),
        motion_blur_share=0.45,
        motion_length=(5, 10),
        noise_sigma=(2.0, 7.0),
        jpeg_quality=(35, 65),
        glare_share=0.7,
        glare_strength=(0.4, 0.8),
        shadow_share=0.3,
        low_light_share=0.25,
        emboss_relief=(0.25, 0.5),
        wear=(0.2, 0.8),
        busy_background=True,
        art_behind_digits_share=0.85,
        max_severe=2,
        digit_faces=fonts.TRAINING_FACES,
        expiry_labels=(*EXPIRY_LABELS, ("VALID THRU",), ()),
        date_forms=(("MM/YY", 0.45), ("MM/YYYY", 0.15), ("YYYY/MM", 0.25), ("YY/MM", 0.15)),
        date_range_share=0.2,
        range_separators=("-", " - "),
        nineteen_share=0.45,
        card_width_px=(380, 800),
        contrast=(0.65, 0.9),
    ),
    "heldout": LevelProfile(
        styles={"embossed": 0.65, "foil": 0.2, "flat": 0.15},
        max_tilt_deg=14.0,
        right_angle_share=0.15,
        perspective=0.05,
        card_fill=(0.55, 0.9),
        blur_sigma=(0.6, 1.8),
        motion_blur_share=0.4,
        motion_length=(7, 11),
        noise_sigma=(1.5, 5.0),
        jpeg_quality=(31, 60),
        glare_share=0.7,
        glare_strength=(0.5, 0.9),
        shadow_share=0.2,
        low_light_share=0.2,
        emboss_relief=(0.2, 0.45),
        wear=(0.1, 0.6),
        busy_background=True,
        art_behind_digits_share=0.8,
        max_severe=2,
        digit_faces=fonts.HELDOUT_FACES,
        expiry_labels=(("有效期至",), ("GOOD THRU",), ("有效期",), ()),
        date_forms=(("MM/YY", 0.35), ("MM/YYYY", 0.2), ("YYYY/MM", 0.3), ("YY/MM", 0.15)),
        date_range_share=0.25,
        range_separators=("-", "~"),
        nineteen_share=0.5,
        card_width_px=(350, 730),
        contrast=(0.6, 0.95),
        contrast_around_mean=True,
        glare_kind="hard",
        light_from_right=True,
        motion_kernel="line",
    ),
}

#: ``severe`` drawn more widely and with more faces, for training only.
PROFILES["varied"] = replace(
    PROFILES["severe"],
    max_tilt_deg=16.0,
    perspective=0.07,
    card_fill=(0.45, 0.9),
    blur_sigma=(0.3, 2.0),
    motion_blur_share=0.5,
    motion_length=(4, 13),
    noise_sigma=(1.0, 8.0),
    jpeg_quality=(28, 70),
    glare_share=0.8,
    glare_strength=(0.3, 0.9),
    shadow_share=0.35,
    low_light_share=0.3,
    emboss_relief=(0.15, 0.6),
    wear=(0.1, 0.9),
    digit_faces=fonts.VARIED_FACES,
    card_width_px=(320, 860),
    contrast=(0.5, 0.95),
)

#: The held-apart level's light, top right; ``relit`` cards are never lit from within 30 degrees of it.
HELDOUT_LIGHT_AZIMUTH_DEG = 45.0

#: ``severe`` lit from any direction but the held-apart one, for training only.
PROFILES["relit"] = replace(
    PROFILES["severe"],
    light_azimuth_deg=(HELDOUT_LIGHT_AZIMUTH_DEG + 30.0, HELDOUT_LIGHT_AZIMUTH_DEG + 330.0),
)

# Card body colours seen on Chinese bank cards: issuer reds, blues, greens, golds, silvers, black, white.
PALETTE: tuple[RGB, ...] = (
    (196, 30, 45), (170, 25, 35), (20, 70, 150), (15, 45, 110), (0, 120, 90), (30, 110, 60),
    (200, 160, 70), (215, 190, 120), (190, 192, 196), (150, 155, 162), (30, 30, 35), (60, 60, 70),
    (235, 235, 232), (250, 248, 240), (110, 50, 130), (0, 115, 130), (225, 110, 40), (240, 200, 205),
)  # fmt: skip
FOILS: dict[str, RGB] = {"silver": (214, 216, 220), "gold": (222, 186, 96)}
ART_KINDS = ("gradient", "waves", "guilloche", "circles", "stripes", "blobs", "mountains", "dots")


@dataclass(frozen=True)
class CardSpec:
    """Everything needed to draw one card and photograph it; sampled by :func:`sample_spec`."""

    level: str
    number: CardNumber
    expiry: PrintedDate | None
    distractor: PrintedDate | None
    holder: str
    digit_face: fonts.FontFace
    style: str
    foil: str | None
    base_colour: RGB
    accent_colour: RGB
    art: tuple[str, ...]
    art_behind_digits: bool
    ink: RGB
    emboss_relief: float
    wear: float
    number_size: int
    number_origin: tuple[int, int]
    slogans: tuple[str, ...]
    #: The direction the embossing is lit from (see :attr:`LevelProfile.light_azimuth_deg`); ``None`` for the
    #: profile's fixed light.
    light_azimuth_deg: float | None = None

    @property
    def profile(self) -> LevelProfile:
        return PROFILES[self.level]


def _pick(rng: np.random.Generator, items: Sequence[T]) -> T:
    """One of ``items``, uniformly."""
    return items[int(rng.integers(len(items)))]


def _weighted(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = sorted(weights)
    probabilities = np.array([weights[name] for name in names], dtype=float)
    return names[int(rng.choice(len(names), p=probabilities / probabilities.sum()))]


def _jitter(rng: np.random.Generator, colour: RGB, amount: int) -> RGB:
    shifted = np.clip(np.array(colour) + rng.integers(-amount, amount + 1, size=3), 0, 255)
    return (int(shifted[0]), int(shifted[1]), int(shifted[2]))


def luminance(colour: RGB) -> float:
    """Perceived brightness (ITU-R BT.601 weights), to choose inks that contrast with a card colour."""
    return 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]


def _ink_for(rng: np.random.Generator, base: RGB, level: str) -> RGB:
    dark_base = luminance(base) < 140
    if level == "hard" and rng.random() < 0.5:
        # low-contrast print: silver on light cards, grey on dark ones
        return (150, 150, 155) if dark_base else (120, 120, 125)
    if dark_base:
        return _pick(rng, [(250, 250, 250), (235, 225, 190), (225, 228, 232)])
    return _pick(rng, [(20, 20, 25), (40, 40, 60), (60, 30, 30), (35, 35, 35)])


def _digit_face(rng: np.random.Generator, faces: tuple[fonts.FontFace, ...]) -> fonts.FontFace:
    """A digit face of ``faces``; when the sampled one is missing, the next available one in the list."""
    start = int(rng.integers(len(faces)))
    for offset in range(len(faces)):
        face = faces[(start + offset) % len(faces)]
        if any(path.exists() for path in face.files):
            return face
    return fonts.FontFace(fonts.PILLOW_DEFAULT, ())


def _varied_date(date: PrintedDate, profile: LevelProfile, rng: np.random.Generator) -> PrintedDate:
    """``date`` in one of the profile's printed forms, and sometimes as a valid-from-thru range."""
    forms = dict(profile.date_forms)
    form = _weighted(rng, forms)
    since = None
    if rng.random() < profile.date_range_share:
        since = earlier_date(rng, date.year)
    return replace(date, form=form, since=since, range_separator=_pick(rng, profile.range_separators))


def sample_spec(table: BinTable, pools: BinPools, level: str, rng: np.random.Generator, *,
                grouping: tuple[int, ...] | None = None) -> CardSpec:
    """Sample one card of ``level`` (any of :data:`ALL_LEVELS`).

    ``grouping`` forces a 19-digit number printed that way (e.g. ``(6, 13)``), to study one layout on tuning
    cards; the held-apart level refuses it, its cards are drawn only as the level draws them.
    """
    if level not in PROFILES:
        raise ValueError(f"unknown level {level!r}; expected one of {', '.join(ALL_LEVELS)}")
    if grouping is not None and level not in TRAINING_LEVELS:
        raise ValueError(f"level {level!r} is for evaluation only: its numbers cannot be forced")
    profile = PROFILES[level]
    number: CardNumber = mint(table, pools, rng, nineteen_share=profile.nineteen_share, grouping=grouping)

    expiry = None
    distractor = None
    if rng.random() < 0.85:
        month, year = expiry_date(rng)
        expiry = PrintedDate(_pick(rng, profile.expiry_labels), month, year)
        if len(profile.date_forms) > 1:
            expiry = _varied_date(expiry, profile, rng)
        if rng.random() < 0.3:
            since_month, since_year = earlier_date(rng, year)
            distractor = PrintedDate(_pick(rng, DISTRACTOR_LABELS), since_month, since_year)
    elif rng.random() < 0.3:
        since_month, since_year = earlier_date(rng, 2030)
        distractor = PrintedDate(_pick(rng, DISTRACTOR_LABELS), since_month, since_year)

    style = _weighted(rng, profile.styles)
    base = _jitter(rng, _pick(rng, PALETTE), 18)
    accent = _jitter(rng, _pick(rng, PALETTE), 30)
    art_count = 1 + int(rng.random() < (0.3 if level == "clean" else 0.7))
    art = tuple(_pick(rng, ART_KINDS) for _ in range(art_count))
    slogans = tuple(_pick(rng, CARD_SLOGANS) for _ in range(int(rng.integers(1, 3))))
    digit_count = len(number.digits) + len(number.grouping) - 1
    number_size = int(rng.uniform(0.84, 0.95) * 780 / (digit_count * 0.62))
    number_size = int(np.clip(number_size, 36, 62))
    spec = CardSpec(
        level=level,
        number=number,
        expiry=expiry,
        distractor=distractor,
        holder=f"{_pick(rng, SURNAMES)} {_pick(rng, GIVEN_NAMES)}",
        digit_face=_digit_face(rng, profile.digit_faces),
        style=style,
        foil=_pick(rng, sorted(FOILS)) if style == "foil" else None,
        base_colour=base,
        accent_colour=accent,
        art=art,
        art_behind_digits=bool(rng.random() < profile.art_behind_digits_share),
        ink=_ink_for(rng, base, level),
        emboss_relief=float(rng.uniform(*profile.emboss_relief)),
        wear=float(rng.uniform(*profile.wear)),
        number_size=number_size,
        number_origin=(int(rng.integers(55, 95)), int(rng.integers(285, 330))),
        slogans=slogans,
    )
    if profile.light_azimuth_deg is not None:
        spec = replace(spec, light_azimuth_deg=float(rng.uniform(*profile.light_azimuth_deg)) % 360.0)
    return spec
