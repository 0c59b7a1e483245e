"""Build ``scripts/fonts/CardCJK-Subset.ttf``: the Chinese glyphs the card generator prints, and no others.

Why a subset: bank names on synthetic cards need a CJK font, a fresh machine has none, and a full CJK font
is several megabytes. Droid Sans Fallback (Apache License 2.0, Debian package ``fonts-droid-fallback``) cut
down to the characters of the BIN table's bank and card names plus the generator's fixed strings is about
a tenth of that. The subset is renamed so it is never mistaken for the full font.

Example::

    apt-get install fonts-droid-fallback    # or: apt-get download fonts-droid-fallback && dpkg-deb -x ...
    pip install fonttools
    python scripts/fonts/build_cjk_subset.py --source /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf

Parameters: ``--source`` (the full Droid Sans Fallback TTF), ``--out`` (default: the committed subset).
"""

from __future__ import annotations

import argparse
import csv
import string
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from scripts.cards.text import fixed_strings  # noqa: E402

BINS_CSV = REPO / "worker" / "recognizer" / "data" / "bins.csv"
DEFAULT_OUT = Path(__file__).resolve().parent / "CardCJK-Subset.ttf"
DEFAULT_SOURCE = Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf")
FAMILY_NAME = "CardCJK Subset"


def wanted_characters() -> str:
    """The characters the generator can print: table names, fixed strings, printable ASCII."""
    chars = set(string.printable.strip()) | {" "}
    with BINS_CSV.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            chars.update(row["bank"])
            chars.update(row["card_name"])
    for text in fixed_strings():
        chars.update(text)
    return "".join(sorted(chars))


def build(source: Path, out: Path) -> int:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.drop_tables += ["DSIG"]
    font = TTFont(str(source))
    subsetter = subset.Subsetter(options=options)
    subsetter.populate(text=wanted_characters())
    subsetter.subset(font)
    names = font["name"]
    for record in names.names:
        if record.nameID in (1, 4, 16):
            record.string = FAMILY_NAME
        elif record.nameID == 6:
            record.string = FAMILY_NAME.replace(" ", "-")
    font.save(str(out))
    return out.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if not args.source.exists():
        print(f"source font {args.source} not found: install Debian's fonts-droid-fallback", file=sys.stderr)
        return 2
    size = build(args.source, args.out)
    print(f"wrote {args.out} ({size} bytes, {len(wanted_characters())} characters)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
