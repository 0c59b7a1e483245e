"""Run the recognizer over tuning-side generated cards and list every miss, for choosing what to fix.

Why a separate tool from ``scripts/bench/recognizer.py``: tuning needs the per-card outcome (right, WRONG with
code 0, or refused and why) next to what the card was (style, grouping, blur, glare, card width), on levels and
seeds that may be used for choices; the benchmark reports rates on reporting seeds and is run once at the end.
The held-apart level is refused here: nothing may be chosen on it.

Usage::

    python scripts/train/tune_recognizer.py --level severe --seed 20001 --count 40 --out /tmp/tune/severe.jsonl
    python scripts/train/tune_recognizer.py --level hard --seed 501 --count 30 --grouping 6-13

Each line of ``--out`` is the card's label plus ``answer``, ``code``, ``outcome`` (right / WRONG / refused),
``message``, ``seconds``, ``expiry_answer``, ``expiry_conf`` and ``expiry_outcome`` (right / WRONG-DATE / MISSED /
SPURIOUS: a wrong date is worse than an empty answer, so they are counted apart); the summary (counts per
outcome, median seconds, expiry counts) and every miss are printed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.bench.recognizer import expected_expiry  # noqa: E402
from scripts.cards.spec import TRAINING_LEVELS  # noqa: E402
from scripts.make_cards import generate  # noqa: E402

#: Seeds kept for reports and tests; tuning on them would make their figures meaningless.
RESERVED_SEEDS = frozenset({2024, 7, 99, 8080})


def outcome_of(answer_code: int, answer: str, truth: str) -> str:
    """right, WRONG (a number other than the printed one with code 0) or refused."""
    if answer_code != 0:
        return "refused"
    return "right" if answer == truth else "WRONG"


def expiry_outcome_of(answer: str, printed: str) -> str:
    """right, WRONG-DATE (a date other than the printed one), MISSED (empty though printed) or SPURIOUS (a date
    though none is printed); a wrong date is worse than an empty answer, so the kinds are kept apart."""
    if answer == printed:
        return "right"
    if not answer:
        return "MISSED"
    return "SPURIOUS" if not printed else "WRONG-DATE"


def run(level: str, seed: int, count: int, grouping: tuple[int, ...] | None, cards: Path) -> list[dict[str, Any]]:
    """Generate the cards into ``cards`` (kept when already there) and read each; one record per card."""
    from worker.recognizer import RecognizerSettings, get_recognizer

    labels_path = cards / "labels.jsonl"
    if labels_path.is_file():
        labels = [json.loads(line) for line in labels_path.read_text(encoding="utf-8").splitlines()]
    else:
        labels = generate(cards, count, level, seed, grouping=grouping)
    recognizer = get_recognizer(RecognizerSettings(threads=1))
    records = []
    for label in labels[:count]:
        data = (cards / label["file"]).read_bytes()
        began = time.perf_counter()
        answer = recognizer.recognize(data)
        seconds = time.perf_counter() - began
        number = answer.value("卡号")
        expiry = answer.value("有效期")
        expiry_item = answer.field("有效期")
        records.append({**label, "answer": number, "code": answer.code, "message": answer.message,
                        "outcome": outcome_of(answer.code, number, label["number"]), "seconds": round(seconds, 3),
                        "expiry_answer": expiry,
                        "expiry_conf": expiry_item.itemconf if expiry_item else None,
                        "expiry_outcome": expiry_outcome_of(expiry, expected_expiry(label))})
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--level", choices=TRAINING_LEVELS, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--grouping", default=None, help="force 19-digit numbers printed this way (6-13, 19)")
    parser.add_argument("--cards", type=Path, default=None, help="keep (or reuse) the generated cards here")
    parser.add_argument("--out", type=Path, default=None, help="write one JSON line per card here")
    args = parser.parse_args(argv)
    if args.seed in RESERVED_SEEDS:
        parser.error(f"seed {args.seed} is a reporting or test seed; pick a tuning seed (501-599, 20001+)")
    grouping = tuple(int(size) for size in args.grouping.split("-")) if args.grouping else None
    with tempfile.TemporaryDirectory() as scratch:
        records = run(args.level, args.seed, args.count, grouping, args.cards or Path(scratch))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    outcomes = [r["outcome"] for r in records]
    print(f"{args.level} seed {args.seed} x{len(records)}: right {outcomes.count('right')}, "
          f"WRONG {outcomes.count('WRONG')}, refused {outcomes.count('refused')}, "
          f"median {statistics.median(r['seconds'] for r in records):.3f} s")
    for r in records:
        if r["outcome"] != "right":
            shown = f"{r['answer'][:6]}..{r['answer'][-4:]}" if r["answer"] else "-"
            print(f"  {r['file']} {r['outcome']:7} {shown:14} len {r['length']} {r['grouping']:9} {r['style']:8} "
                  f"w {r['width']} rot {r['rotation']} {r['message'][:60]}")
    expiry_outcomes = [r["expiry_outcome"] for r in records]
    print(f"expiry: right {expiry_outcomes.count('right')}, WRONG-DATE {expiry_outcomes.count('WRONG-DATE')}, "
          f"MISSED {expiry_outcomes.count('MISSED')}, SPURIOUS {expiry_outcomes.count('SPURIOUS')}")
    for r in records:
        if r["expiry_outcome"] != "right":
            conf = r["expiry_conf"] if r["expiry_conf"] is not None else "-"
            print(f"  {r['file']} {r['expiry_outcome']:10} answered {r['expiry_answer'] or '-':8} (conf {conf}) "
                  f"printed {r.get('valid_date') or '-':8} ({r.get('expiry')}) form {r.get('expiry_form')} "
                  f"label {r.get('expiry_label')} from {r.get('valid_from')} {r['style']:8} len {r['length']} "
                  f"w {r['width']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
