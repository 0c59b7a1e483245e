"""Train the card-number reader (``worker/recognizer/data/number_reader.onnx``) and the date reader
(``date_reader.onnx``) on generated cards.

The reader is the recogniser's own sequence neck plus a 12-class CTC head (blank, digits, space) on top of
the recogniser's frozen backbone (see :mod:`worker.recognizer.numberreader`). The head starts as the
recogniser's own digit rows, so training begins at the general reader's accuracy and only has to learn
what card numbers look like: embossed digits in the card's colour, foil, artwork, OCR-A/B, wear.

Why the backbone is frozen: its features are computed once per crop and cached, so an epoch over 10k lines
takes seconds on two CPU cores instead of the better part of an hour; and at run time the features come
out of the recogniser's inference that happens anyway, so the second reader costs about a millisecond.

How each shipped model was made (commands, data, figures) and every training experiment measured since, kept or not,
are in ``docs/training.md``. The subcommands: ``features`` crops the number lines (or, with ``--field expiry``,
the printed dates) of generated cards and caches the recogniser's features of each crop (``--last-block``: the
last backbone block's input, for a head that trains that block too); ``train`` fine-tunes the neck and head on
those features, chooses the epoch on a held-out tenth of the cards and exports ONNX::

    python scripts/make_cards.py --out var/train/hardA --count 1600 --level hard --seed 10001
    python scripts/train/number_reader.py features --cards var/train/hardA --out var/train/a.pkl --seed 1
    python scripts/train/number_reader.py train --features var/train/a.pkl --epochs 8 \
        --out var/train/number_reader.onnx

Cards of the ``heldout`` level never train: they are the held-apart evaluation set, and ``features`` refuses
them.

Training needs PyTorch (CPU build), onnx and onnx2torch (``pip install -e '.[train]'``); nothing at run time does.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.cards.spec import TRAINING_LEVELS  # noqa: E402
from worker.recognizer.ctc import ctc_decode  # noqa: E402
from worker.recognizer.datereader import DATE_CHARSET  # noqa: E402
from worker.recognizer.engine import recogniser_charset  # noqa: E402
from worker.recognizer.geometry import crop_quad, pad_quad, quad_size  # noqa: E402
from worker.recognizer.lineinput import line_tensor  # noqa: E402
from worker.recognizer.numberreader import BACKBONE_OUTPUT, CHARSET, recogniser_with_features  # noqa: E402
from worker.recognizer.reader import REREAD_MIN_HEIGHT  # noqa: E402
from worker.recognizer.renderings import clahe  # noqa: E402
from worker.recognizer.sessions import REC_MODEL, cpu_session  # noqa: E402

#: The input of the recogniser's last backbone block (N x 384 x 3 x 2T: three rows, which the backbone then
#: averages into one), cached by ``features --last-block`` for a head that trains that block too.
LAST_BLOCK_INPUT = "p2o.pd_op.add.60.0"
#: The recogniser's tensor the neck starts from, and the one the original head reads.
NECK_OUTPUT = "p2o.pd_op.transpose.8.0"
HEAD_WEIGHT, HEAD_BIAS = "linear_8.w_0", "linear_8.b_0"
#: Crops per card: line boxes as the detector would find them, plain and contrast-enhanced.
CROPS_PER_CARD = 3
#: Share of crops turned upside down and labelled empty (a card read the wrong way up must spell nothing).
UPSIDE_DOWN_SHARE = 0.05
#: The least heights the expiry reads crop dates at (0: the photo's own scale).
DATE_CROP_HEIGHTS = (0, 48, 64, 96)
#: Share of cards held out to choose the epoch.
VALIDATION_SHARE = 0.1


# -- crops and features ------------------------------------------------------------------------------------

def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-6)


def jittered_line(quad: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The number line as the detector might box it: edges moved in and out, ends tilted, sometimes stretched
    across the card like the reader's stretched lines."""
    top_left, top_right, bottom_right, bottom_left = quad.astype(np.float32)
    _, height = quad_size(quad)
    along, across = _unit(top_right - top_left), _unit(bottom_left - top_left)
    stretched = rng.random() < 0.2
    left = rng.uniform(0.5, 2.0) * height if stretched else rng.uniform(-0.3, 0.4) * height
    right = rng.uniform(0.5, 2.0) * height if stretched else rng.uniform(-0.3, 0.4) * height
    top_l, top_r = rng.uniform(-0.12, 0.2, size=2) * height
    bottom_l, bottom_r = rng.uniform(-0.12, 0.2, size=2) * height
    return np.array([
        top_left - along * left - across * top_l,
        top_right + along * right - across * top_r,
        bottom_right + along * right + across * bottom_r,
        bottom_left - along * left + across * bottom_l,
    ], dtype=np.float32)


def line_crop(image: np.ndarray, line: np.ndarray) -> np.ndarray:
    """The crop the reader re-reads for a line: padded as :func:`worker.recognizer.reader._reread_crops` does."""
    _, height = quad_size(line)
    return crop_quad(image, pad_quad(line, 0.5 * height, 0.15 * height), min_height=REREAD_MIN_HEIGHT)


def card_crops(image: np.ndarray, label: dict[str, Any], rng: np.random.Generator) -> list[tuple[np.ndarray, str]]:
    target = " ".join(label["printed"].split())
    quad = np.asarray(label["number_quad"], dtype=np.float32)
    return [_as_trained(index, line_crop(image, jittered_line(quad, rng)), target, rng)
            for index in range(CROPS_PER_CARD)]


def _as_trained(index: int, crop: np.ndarray, target: str, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """A card's ``index``-th crop as it is trained on: contrast-enhanced for the second and half of the third,
    and now and then turned upside down with an empty target (a card read the wrong way up must spell
    nothing)."""
    if index == 1 or (index == 2 and rng.random() < 0.5):
        crop = clahe(crop)
    if rng.random() < UPSIDE_DOWN_SHARE:
        return cv2.rotate(crop, cv2.ROTATE_180), ""
    return crop, target


def jittered_date(quad: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The printed date as a box of the page might hold it: edges moved in and out, and in a quarter of crops
    reaching left over the date's label (the detector often boxes "VALID THRU 08/28" as one line)."""
    line = jittered_line(quad, rng)
    if rng.random() < 0.25:
        top_left, top_right = quad[0].astype(np.float32), quad[1].astype(np.float32)
        _, height = quad_size(quad)
        reach = _unit(top_right - top_left) * rng.uniform(1.0, 4.0) * height
        line[0] -= reach
        line[3] -= reach
    return line


def date_crops(image: np.ndarray, label: dict[str, Any], rng: np.random.Generator) -> list[tuple[np.ndarray, str]]:
    """Crops of the printed expiry (plain, contrast-enhanced, at the scales the expiry reads use), labelled with
    the date as printed; none for a card that prints no expiry."""
    if not label.get("expiry_quad"):
        return []
    quad = np.asarray(label["expiry_quad"], dtype=np.float32)
    crops = []
    for index in range(CROPS_PER_CARD):
        line = jittered_date(quad, rng)
        _, height = quad_size(line)
        crop = crop_quad(image, pad_quad(line, 0.3 * height, 0.15 * height),
                         min_height=int(rng.choice(DATE_CROP_HEIGHTS)))
        crops.append(_as_trained(index, crop, label["expiry"], rng))
    return crops


#: What each reader is trained to read: its classes and the crops (with their targets) a card gives.
FIELDS: dict[str, tuple[tuple[str, ...], Any]] = {"number": (CHARSET, card_crops), "expiry": (DATE_CHARSET, date_crops)}

_SESSION: Any = None


def _init_worker(tensor: str) -> None:
    global _SESSION
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    _SESSION = onnxruntime.InferenceSession(recogniser_with_features(REC_MODEL, tensor), options,
                                            providers=["CPUExecutionProvider"])


def _features_of_cards(job: tuple[str, list[dict[str, Any]], int, str, str]) -> list[dict[str, Any]]:
    directory, labels, seed, field, tensor_name = job
    crops_of = FIELDS[field][1]
    samples = []
    for label in labels:
        image = cv2.imread(str(Path(directory) / label["file"]), cv2.IMREAD_COLOR)
        rng = np.random.default_rng([seed, label["seed"], label["index"]])
        for crop, target in crops_of(image, label, rng):
            tensor, _ = line_tensor(crop)
            features = _SESSION.run([tensor_name], {"x": tensor[None]})[0][0]
            if tensor_name == BACKBONE_OUTPUT:
                features = features[:, 0, :]
            samples.append({"features": features.astype(np.float16), "target": target,
                            "card": f"{label['seed']}:{label['index']}", "level": label["level"]})
    return samples


def build_features(card_dirs: list[Path], out: Path, *, workers: int, seed: int, field: str = "number",
                   last_block: bool = False) -> None:
    """Crop each card's lines and cache the recogniser's tensor the head starts from: the backbone's output
    (C x T), or with ``last_block`` the input of the backbone's last block (C x 3 x 2T), which that block then
    learns from."""
    tensor_name = LAST_BLOCK_INPUT if last_block else BACKBONE_OUTPUT
    jobs = []
    for directory in card_dirs:
        labels = [json.loads(line) for line in (directory / "labels.jsonl").read_text().splitlines() if line]
        held_apart = sorted({label["level"] for label in labels} - set(TRAINING_LEVELS))
        if held_apart:
            raise SystemExit(f"{directory}: cards of level {', '.join(held_apart)} are for evaluation only, "
                             "never for training")
        for start in range(0, len(labels), 50):
            jobs.append((str(directory), labels[start:start + 50], seed, field, tensor_name))
    samples: list[dict[str, Any]] = []
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(tensor_name,)) as pool:
        for done, batch in enumerate(pool.map(_features_of_cards, jobs), 1):
            samples.extend(batch)
            print(f"features: {done}/{len(jobs)} batches, {len(samples)} crops, "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as handle:
        pickle.dump(samples, handle, protocol=pickle.HIGHEST_PROTOCOL)


# -- the model ---------------------------------------------------------------------------------------------

def _without_torchvision() -> None:
    """Let onnx2torch import without torchvision: it needs it only for NMS and RoIAlign, which the neck
    lacks, and a torchvision wheel built for another torch fails at import."""
    import types

    try:
        import torchvision  # noqa: F401
    except Exception:
        ops = types.ModuleType("torchvision.ops")
        ops.roi_align = None  # type: ignore[attr-defined]
        vision = types.ModuleType("torchvision")
        vision.ops = ops  # type: ignore[attr-defined]
        sys.modules.update({"torchvision": vision, "torchvision.ops": ops})


def _recogniser_part(name: str, start: str, end: str) -> tuple[Any, Path]:
    """The recogniser's graph from tensor ``start`` to ``end``, converted to PyTorch, and where its ONNX was
    written (``var/train/<name>.onnx``)."""
    import onnx

    _without_torchvision()
    from onnx2torch import convert

    path = ROOT / "var" / "train" / f"{name}.onnx"
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.utils.extract_model(str(REC_MODEL), str(path), [start], [end])
    return convert(str(path)), path


def build_model(classes: tuple[str, ...] = CHARSET) -> Any:
    """The recogniser's neck (converted to PyTorch) and a head initialised from its rows for ``classes``."""
    import onnx
    import torch

    full = onnx.load(str(REC_MODEL))
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in full.graph.initializer}
    neck, _ = _recogniser_part("neck", BACKBONE_OUTPUT, NECK_OUTPUT)

    charset = recogniser_charset(cpu_session(str(REC_MODEL), 1))
    rows = [0 if c == "blank" else charset.index(c) for c in classes]
    head = torch.nn.Linear(weights[HEAD_WEIGHT].shape[0], len(classes))
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(weights[HEAD_WEIGHT][:, rows].T.copy()))
        head.bias.copy_(torch.from_numpy(weights[HEAD_BIAS][rows].copy()))

    class NumberHead(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.neck, self.head = neck, head

        def forward(self, features: torch.Tensor) -> torch.Tensor:
            return self.head(self.neck(features))  # logits, N x T x classes

    return NumberHead()


def with_last_block(head: Any) -> Any:
    """``head`` (from :func:`build_model`) behind the recogniser's last backbone block (converted to PyTorch,
    trainable), so that the block's features learn the head's lines too; it reads ``LAST_BLOCK_INPUT``.

    Why: a head over the frozen backbone's output learns a new kind of line only as far as those features show
    it. The last block still sees the line's three rows (the backbone then averages them into one), where an
    embossed digit's lit and shaded edges are apart.
    """
    import torch

    block, block_path = _recogniser_part("last_block", LAST_BLOCK_INPUT, BACKBONE_OUTPUT)
    probe = np.random.default_rng(0).standard_normal((1, 384, 3, 80)).astype(np.float32)
    expected = cpu_session(str(block_path), 1).run(None, {LAST_BLOCK_INPUT: probe})[0]  # type: ignore[attr-defined]
    with torch.no_grad():
        got = block.eval()(torch.from_numpy(probe)).numpy()
    if not np.allclose(got, expected, atol=1e-4):
        raise SystemExit(f"the converted last block differs from the recogniser's (max "
                         f"{float(np.abs(got - expected).max()):.2e})")

    class LastBlockHead(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.block, self.inner = block, head

        def forward(self, features: torch.Tensor) -> torch.Tensor:
            return self.inner(self.block(features))

    return LastBlockHead()


def _as_batch(features: list[np.ndarray]) -> Any:
    """Cached features (C x T, or C x 3 x 2T before the last block) as the model's input batch."""
    import torch

    batch = torch.from_numpy(np.stack(features).astype(np.float32))
    return batch[:, :, None, :] if batch.ndim == 3 else batch


def load_trained(model: Any, path: Path) -> None:
    """Start ``model`` (from :func:`build_model`) where an exported reader at ``path`` left off.

    Why: a reader trained on many cards is a better start than the recogniser's digit rows when new kinds of
    card are added; fine-tuning it on them costs minutes where training again on every card costs an hour.
    Export folded each batch norm into its convolution, so each convolution takes the folded weights and its
    batch norm becomes the identity plus the folded bias; the neck's other tensors (frozen in training) are
    copied as exported. The convolutions are found by the names onnx2torch gives them, so the model's output
    is checked against the exported reader's before training starts: a mismatch stops here, not hours later.
    """
    import onnx
    import onnxruntime
    import torch

    exported = onnx.load(str(path))
    tensors = {t.name: onnx.numpy_helper.to_array(t) for t in exported.graph.initializer}
    convolutions = [node for node in exported.graph.node if node.op_type == "Conv"]
    head_matmul = [node for node in exported.graph.node if node.op_type == "MatMul"][-1]
    head_add = next(node for node in exported.graph.node if head_matmul.output[0] in node.input)
    modules = dict(model.neck.named_children())
    pairs = [(modules[f"Conv/{54 + i}"], modules[f"BatchNormalization/{i}"]) for i in range(len(convolutions))]
    prefix = "inner.neck.initializers."
    with torch.no_grad():
        for name, value in tensors.items():
            if name.startswith(prefix):
                getattr(model.neck.initializers, name[len(prefix):]).copy_(torch.from_numpy(value.copy()))
        for node, (convolution, norm) in zip(convolutions, pairs, strict=True):
            convolution.weight.copy_(torch.from_numpy(tensors[node.input[1]].copy()))
            norm.running_mean.zero_()
            norm.running_var.fill_(1.0 - norm.eps)
            norm.weight.fill_(1.0)
            norm.bias.copy_(torch.from_numpy(tensors[node.input[2]].copy()))
        model.head.weight.copy_(torch.from_numpy(tensors[head_matmul.input[1]].T.copy()))
        bias = next(name for name in head_add.input if name in tensors)
        model.head.bias.copy_(torch.from_numpy(tensors[bias].copy()))

    probe = np.random.default_rng(0).standard_normal((1, 384, 1, 40)).astype(np.float32)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    expected = session.run(None, {"features": probe})[0]
    model.eval()
    with torch.no_grad():
        got = model(torch.from_numpy(probe)).softmax(-1).numpy()
    if not np.allclose(got, expected, atol=1e-4):
        raise SystemExit(f"{path}: the loaded model differs from the exported one "
                         f"(max {float(np.abs(got - expected).max()):.2e})")


def _freeze_batch_norm(model: Any) -> None:
    import torch

    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.eval()


def _squashed(text: str) -> str:
    """A read as compared with its target: spaces do not count (a number's groups, a range's dash)."""
    return "".join(text.split())


def evaluate(model: Any, samples: list[dict[str, Any]], classes: tuple[str, ...] = CHARSET) -> dict[str, float]:
    import torch

    model.eval()
    exact: dict[str, list[bool]] = defaultdict(list)
    with torch.no_grad():
        for sample in samples:
            features = _as_batch([sample["features"]])
            text = ctc_decode(model(features)[0].numpy(), classes).text  # argmax of logits = of probs
            exact[sample["level"]].append(_squashed(text) == _squashed(sample["target"]))
    return {level: float(np.mean(flags)) for level, flags in sorted(exact.items())}


def _buckets(samples: list[dict[str, Any]], batch_size: int, rng: np.random.Generator) -> list[list[int]]:
    """Batches of samples with the same number of timesteps: the neck attends over the whole line, so
    padding would change what it sees."""
    by_width: dict[int, list[int]] = defaultdict(list)
    for index, sample in enumerate(samples):
        by_width[sample["features"].shape[-1]].append(index)
    batches = []
    for indices in by_width.values():
        rng.shuffle(indices)
        batches += [indices[i:i + batch_size] for i in range(0, len(indices), batch_size)]
    rng.shuffle(batches)
    return batches


def train(features_paths: list[Path], out: Path, *, epochs: int, learning_rate: float, batch_size: int,
          seed: int, start_from: Path | None = None, field: str = "number",
          block_learning_share: float = 1.0) -> None:
    import torch

    torch.manual_seed(seed)
    samples = [s for path in features_paths for s in pickle.loads(path.read_bytes())]
    cards = sorted({s["card"] for s in samples})
    rng = np.random.default_rng(seed)
    held_out = set(rng.choice(cards, size=max(1, int(len(cards) * VALIDATION_SHARE)), replace=False))
    training = [s for s in samples if s["card"] not in held_out]
    validation = [s for s in samples if s["card"] in held_out and s["target"]]
    print(f"train: {len(training)} crops, validation: {len(validation)} crops of {len(held_out)} cards")

    classes = FIELDS[field][0]
    last_block = samples[0]["features"].ndim == 3  # cached by ``features --last-block``: C x 3 x 2T
    model = build_model(classes)
    if start_from is not None:
        load_trained(model, start_from)
    if last_block:
        model = with_last_block(model)
    start = f"the reader in {start_from}" if start_from is not None else "the recogniser's own digit rows"
    print(f"epoch 0 ({start}):", evaluate(model, validation, classes), flush=True)
    groups = [{"params": list(model.parameters()), "lr": learning_rate}]
    if last_block:
        groups = [{"params": list(model.block.parameters()), "lr": learning_rate * block_learning_share},
                  {"params": list(model.inner.parameters()), "lr": learning_rate}]
    optimiser = torch.optim.AdamW(groups, weight_decay=1e-4)
    steps = epochs * len(_buckets(training, batch_size, np.random.default_rng(0)))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=[group["lr"] for group in groups],
                                                   total_steps=steps, pct_start=0.1)
    ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
    index_of = {c: i for i, c in enumerate(classes)}
    best_score, best_state = -1.0, None
    for epoch in range(1, epochs + 1):
        model.train()
        _freeze_batch_norm(model)
        started, total = time.perf_counter(), 0.0
        for batch in _buckets(training, batch_size, rng):
            features = _as_batch([training[i]["features"] for i in batch])
            targets = [[index_of[c] for c in training[i]["target"]] for i in batch]
            log_probs = model(features).log_softmax(-1).permute(1, 0, 2)  # T x N x C
            loss = ctc(log_probs, torch.tensor([t for target in targets for t in target], dtype=torch.long),
                       torch.full((len(batch),), log_probs.shape[0], dtype=torch.long),
                       torch.tensor([len(t) for t in targets], dtype=torch.long))
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimiser.step()
            schedule.step()
            total += float(loss) * len(batch)
        scores = evaluate(model, validation, classes)
        print(f"epoch {epoch}: loss {total / len(training):.4f}, exact {scores}, "
              f"{time.perf_counter() - started:.0f} s", flush=True)
        score = float(np.mean(list(scores.values())))
        if score > best_score:
            best_score, best_state = score, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    export(model, out, last_block=last_block)


def export(model: Any, out: Path, *, last_block: bool = False) -> None:
    import torch

    model.eval()
    example = torch.zeros(1, 384, 3, 120) if last_block else torch.zeros(1, 384, 1, 60)

    class WithSoftmax(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(self, features: torch.Tensor) -> torch.Tensor:
            return self.inner(features).softmax(-1)

    out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(WithSoftmax(), (example,), str(out), input_names=["features"], output_names=["probs"],
                      dynamic_axes={"features": {3: "steps"}, "probs": {1: "steps"}}, opset_version=17,
                      dynamo=False)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    features = commands.add_parser("features", help="crop number lines and cache the backbone's features")
    features.add_argument("--cards", type=Path, nargs="+", required=True)
    features.add_argument("--out", type=Path, required=True)
    features.add_argument("--workers", type=int, default=2)
    features.add_argument("--seed", type=int, default=1)
    features.add_argument("--field", choices=sorted(FIELDS), default="number")
    features.add_argument("--last-block", action="store_true",
                          help="cache the last backbone block's input, for a head that trains that block too")
    fit = commands.add_parser("train", help="fine-tune the neck and head, export ONNX")
    fit.add_argument("--features", type=Path, nargs="+", required=True)
    fit.add_argument("--out", type=Path, required=True)
    fit.add_argument("--epochs", type=int, default=8)
    fit.add_argument("--learning-rate", type=float, default=3e-4)
    fit.add_argument("--batch-size", type=int, default=32)
    fit.add_argument("--seed", type=int, default=1)
    fit.add_argument("--field", choices=sorted(FIELDS), default="number")
    fit.add_argument("--block-learning-share", type=float, default=1.0,
                     help="the last backbone block's learning rate as a share of the head's (features cached "
                          "with --last-block)")
    fit.add_argument("--start-from", type=Path, default=None,
                     help="an exported reader to fine-tune instead of starting from the recogniser's digit rows")
    args = parser.parse_args(argv)
    if args.command == "features":
        build_features(args.cards, args.out, workers=args.workers, seed=args.seed, field=args.field,
                       last_block=args.last_block)
    else:
        train(args.features, args.out, epochs=args.epochs, learning_rate=args.learning_rate,
              batch_size=args.batch_size, seed=args.seed, start_from=args.start_from, field=args.field,
              block_learning_share=args.block_learning_share)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
