#!/usr/bin/env bash
# The main job on a fresh machine: set up .venv, generate sample bank cards plus a few bad files into
# ./samples, and run `cardpipe run ./samples` on the embedded defaults (no server, no cloud account).
# The summary shows both kinds of outcome: results for the cards, dead letters (with codes) for the bad files.
# Outcomes land in ./var/outcomes; run it again and every image is skipped (it already has an outcome).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
PY=.venv/bin/python
SAMPLES=${SAMPLES:-samples}

if [[ ! -f $SAMPLES/.complete ]]; then
  rm -rf "$SAMPLES"
  mkdir -p "$SAMPLES" var
  echo "generating 24 sample cards (mixed difficulty, seed 7) into ./$SAMPLES ..." >&2
  "$PY" scripts/make_cards.py --out "$SAMPLES" --count 24 --level mixed --seed 7 >/dev/null
  # The labels hold the true card numbers; keep them out of the folder the job reads.
  mv "$SAMPLES/labels.jsonl" var/samples-labels.jsonl
  # A few bad files, each of which must end as a dead letter with a code and a reason.
  "$PY" - "$SAMPLES" <<'PYEOF'
import io
import sys
from pathlib import Path

from PIL import Image

folder = Path(sys.argv[1])
first_card = sorted(folder.glob("card_*.jpg"))[0].read_bytes()
(folder / "bad_corrupt.jpg").write_bytes(first_card[: len(first_card) // 3])   # a truncated JPEG
(folder / "bad_empty.jpg").write_bytes(b"")                                    # a 0-byte file
(folder / "bad_notes.txt").write_text("this is not a picture of a card\n")      # a text file
frames = [Image.new("RGB", (320, 200), colour) for colour in ("red", "green", "blue")]
buffer = io.BytesIO()
frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
(folder / "bad_animated.gif").write_bytes(buffer.getvalue())                   # a multi-frame GIF
PYEOF
  touch "$SAMPLES/.complete"
fi

exec .venv/bin/cardpipe run "./$SAMPLES" "$@"
