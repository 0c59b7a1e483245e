"""The synthetic card generator: deterministic, labels that match the BIN table, every level renders."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scripts.cards import fonts
from scripts.cards.numbers import build_pools
from scripts.cards.render import emboss_light
from scripts.cards.spec import (
    ALL_LEVELS,
    CARD_HEIGHT,
    CARD_WIDTH,
    HELDOUT_LIGHT_AZIMUTH_DEG,
    LEVELS,
    PROFILES,
    TRAINING_LEVELS,
)
from scripts.make_cards import card_rng, generate, render_card, sample_spec
from worker.recognizer.bins import default_table, luhn_valid
from worker.recognizer.expiry import parse_dates

REPO = Path(__file__).resolve().parents[1]
EXPIRY = re.compile(r"^(0[1-9]|1[0-2])/\d{2}$")


def check_label(label: dict, folder: Path) -> None:
    """Everything a benchmark relies on in one label, checked against the image and the BIN table."""
    table = default_table()
    number = label["number"]
    assert luhn_valid(number), label["file"]
    assert len(number) in (16, 19)
    assert table.plausible(number)
    record = table.lookup(number)
    assert record is not None and record.prefix == label["bin"] and record.bank_info == label["bank"]
    assert number.startswith(label["bin"])
    assert sum(int(size) for size in label["grouping"].split("-")) == len(number)
    assert label["printed"].replace(" ", "") == number
    if label["level"] in LEVELS:
        assert label["expiry"] is None or EXPIRY.match(label["expiry"])
    if label["expiry"] is not None:
        dates = parse_dates(label["expiry"])
        assert dates, label["expiry"]
        latest = max(dates, key=lambda d: (d.year, d.month))
        assert label["valid_date"] == f"{latest.month:02d}/{latest.year}", label["expiry"]
    else:
        assert label["valid_date"] is None
    assert label["distractor"] is None or EXPIRY.match(label["distractor"])
    assert label["rotation"] in (0, 90, 180, 270)
    assert label["style"] in ("flat", "embossed", "foil")
    assert label["font"] in {face.name for face in fonts.ALL_DIGIT_FACES} | {fonts.PILLOW_DEFAULT}
    with Image.open(folder / label["file"]) as image:
        image.load()
        assert image.size == (label["width"], label["height"])
        assert image.format == ("PNG" if label["file"].endswith(".png") else "JPEG")
    for x, y in label["card_quad"] + label["number_quad"] + (label["expiry_quad"] or []):
        assert -1 <= x <= label["width"] + 1 and -1 <= y <= label["height"] + 1
    assert (label["expiry_quad"] is None) == (label["expiry"] is None)


def read_labels(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "labels.jsonl").read_text(encoding="utf-8").splitlines()]


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", 3, "mixed", seed=42)
    second = generate(tmp_path / "b", 3, "mixed", seed=42)
    assert first == second
    for label in first:
        assert (tmp_path / "a" / label["file"]).read_bytes() == (tmp_path / "b" / label["file"]).read_bytes()
    assert (tmp_path / "a" / "labels.jsonl").read_bytes() == (tmp_path / "b" / "labels.jsonl").read_bytes()


def test_a_card_depends_only_on_seed_and_index(tmp_path: Path) -> None:
    short = generate(tmp_path / "short", 1, "hard", seed=9)
    other_seed = generate(tmp_path / "other", 1, "hard", seed=10)
    assert short[0]["number"] != other_seed[0]["number"]
    longer = generate(tmp_path / "long", 2, "hard", seed=9)
    assert longer[0] == short[0]
    assert (tmp_path / "long" / "card_0000.jpg").read_bytes() == (tmp_path / "short" / "card_0000.jpg").read_bytes()


@pytest.mark.parametrize("level", ["clean", "moderate", "hard", "severe", "varied", "relit", "heldout"])
def test_every_level_renders_valid_labelled_photos(tmp_path: Path, level: str) -> None:
    labels = generate(tmp_path, 2, level, seed=7)
    assert read_labels(tmp_path) == labels
    for label in labels:
        assert label["level"] == level and label["seed"] == 7
        check_label(label, tmp_path)
        if level in LEVELS:
            assert 1000 <= max(label["width"], label["height"]) <= 1600
        else:
            low, high = PROFILES[level].card_width_px or (0, 0)
            card = np.asarray(label["card_quad"])
            assert 0.9 * low <= float(np.linalg.norm(card[1] - card[0])) <= 1.1 * high
        if level == "clean":
            assert label["rotation"] == 0 and label["style"] == "flat"


def test_the_expiry_quad_holds_the_printed_date_below_the_number(tmp_path: Path) -> None:
    """The date's box as the card is read: below the number line, about as tall as a small line, and following
    the photo's quarter turns like the number's (the date reader is trained on crops of it)."""
    labels = [label for label in generate(tmp_path, 12, "hard", seed=5) if label["expiry"]]
    assert labels and any(label["rotation"] for label in labels)
    for label in labels:
        number, date = np.asarray(label["number_quad"]), np.asarray(label["expiry_quad"])
        down = (number[3] - number[0]) / np.linalg.norm(number[3] - number[0])
        assert float((date.mean(axis=0) - number.mean(axis=0)) @ down) > 0, label["file"]
        assert np.linalg.norm(date[3] - date[0]) < np.linalg.norm(number[3] - number[0]), label["file"]


def test_width_option_scales_photos_and_their_geometry(tmp_path: Path) -> None:
    full = generate(tmp_path / "full", 1, "moderate", seed=3)[0]
    small = generate(tmp_path / "small", 1, "moderate", seed=3, width=640)[0]
    assert small["width"] == 640
    scale = 640 / full["width"]
    assert small["number_quad"][0][0] == pytest.approx(full["number_quad"][0][0] * scale, abs=0.2)
    check_label(small, tmp_path / "small")


def test_render_card_returns_an_id1_card_face() -> None:
    table = default_table()
    rng = card_rng(1, 0)
    spec = sample_spec(table, build_pools(table), "hard", rng)
    face = render_card(spec, rng)
    assert face.size == (CARD_WIDTH, CARD_HEIGHT) and face.mode == "RGBA"
    alpha = np.asarray(face.getchannel("A"))
    assert alpha[0, 0] == 0 and alpha[CARD_HEIGHT // 2, CARD_WIDTH // 2] == 255, "rounded corners are transparent"


def test_sampled_specs_cover_the_hard_cases() -> None:
    table = default_table()
    pools = build_pools(table)
    specs = [sample_spec(table, pools, level, card_rng(123, i)) for i in range(150) for level in ("moderate", "hard")]
    groupings = Counter(spec.number.grouping for spec in specs)
    assert {(4, 4, 4, 4), (6, 13), (4, 4, 4, 4, 3), (19,)} <= set(groupings)
    assert {spec.style for spec in specs} == {"flat", "embossed", "foil"}
    assert {spec.foil for spec in specs if spec.style == "foil"} == {"silver", "gold"}
    assert any(spec.expiry is None for spec in specs)
    assert any(spec.distractor is not None and spec.expiry is not None for spec in specs)
    assert {spec.number.network for spec in specs} >= {"unionpay", "visa", "mastercard"}
    unionpay_share = sum(spec.number.network == "unionpay" for spec in specs) / len(specs)
    assert unionpay_share > 0.6
    assert len({spec.digit_face.name for spec in specs}) >= 4


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown level 'extreme'"):
        generate(tmp_path, 1, "extreme", seed=1)
    with pytest.raises(ValueError, match="count"):
        generate(tmp_path, -1, "clean", seed=1)
    with pytest.raises(ValueError, match="width"):
        generate(tmp_path, 1, "clean", seed=1, width=10)


def test_missing_font_falls_back_to_pillow_and_says_so() -> None:
    missing = fonts.FontFace("Nowhere", (Path("/nonexistent/font.ttf"),))
    loaded = fonts.load(missing, 30)
    assert loaded.name == fonts.PILLOW_DEFAULT
    assert loaded.font.getbbox("0123")[2] > 0


def test_command_line(tmp_path: Path) -> None:
    script = REPO / "scripts" / "make_cards.py"
    result = subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path), "--count", "2", "--level", "clean", "--seed", "5"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    labels = read_labels(tmp_path)
    assert [label["file"] for label in labels] == ["card_0000.jpg", "card_0001.jpg"]
    for label in labels:
        check_label(label, tmp_path)
    refused = subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path), "--level", "extreme"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 2 and "invalid choice: 'extreme'" in refused.stderr


@pytest.mark.parametrize("level", ["severe", "heldout"])
def test_the_hard_new_levels_cover_every_way_cards_were_seen_to_be_hard(level: str) -> None:
    table = default_table()
    pools = build_pools(table)
    specs = [sample_spec(table, pools, level, card_rng(321, i)) for i in range(200)]
    printed = [spec.expiry for spec in specs if spec.expiry is not None]
    assert {date.form for date in printed} == {"MM/YY", "MM/YYYY", "YYYY/MM", "YY/MM"}
    assert any(date.since is not None for date in printed), "a valid-from-thru range"
    assert any(date.label == () for date in printed), "a date with no label"
    nineteen = [spec for spec in specs if len(spec.number.digits) == 19]
    assert 0.3 < len(nineteen) / len(specs) < 0.7
    assert {(6, 13), (19,)} <= {spec.number.grouping for spec in nineteen}
    assert sum(spec.style == "embossed" for spec in specs) / len(specs) > 0.45
    profile = PROFILES[level]
    assert profile.max_tilt_deg == 14 and profile.card_width_px is not None and profile.contrast is not None
    assert profile.jpeg_quality[0] <= 35 and profile.blur_sigma[0] > 0 and profile.glare_share >= 0.7


def test_the_heldout_level_shares_no_face_or_degradation_with_the_training_levels() -> None:
    training = {face.name for level in TRAINING_LEVELS for face in PROFILES[level].digit_faces}
    heldout = {face.name for face in PROFILES["heldout"].digit_faces}
    assert heldout and not heldout & training
    assert all((REPO / "scripts" / "fonts" / face.files[0].name).exists()
               for face in fonts.ALL_DIGIT_FACES), "every face ships in scripts/fonts"
    held = PROFILES["heldout"]
    for trained in (PROFILES["severe"], PROFILES["varied"], PROFILES["relit"]):
        assert (held.glare_kind, held.motion_kernel, held.light_from_right, held.contrast_around_mean) != (
            trained.glare_kind, trained.motion_kernel, trained.light_from_right, trained.contrast_around_mean)
        assert set(held.expiry_labels) - set(trained.expiry_labels), "labels no training card prints"
    assert all(not (held.glare_kind == PROFILES[level].glare_kind == "hard") for level in LEVELS)


def test_the_varied_level_draws_faces_no_other_level_does() -> None:
    """It widens what the number head is trained on; the tuning and reporting levels stay as they were."""
    table = default_table()
    pools = build_pools(table)
    faces = {sample_spec(table, pools, "varied", card_rng(654, i)).digit_face.name for i in range(120)}
    extra = {face.name for face in fonts.VARIED_EXTRA_FACES}
    assert extra <= faces
    assert not extra & {face.name for level in ALL_LEVELS if level != "varied"
                        for face in PROFILES[level].digit_faces}


def test_the_relit_level_lights_cards_from_every_side_but_the_held_apart_one() -> None:
    """Training cards lit from anywhere, so readers do not learn one light; never within 30 degrees of the
    held-apart level's top right, so that level's light stays unseen."""
    table = default_table()
    pools = build_pools(table)
    azimuths = [sample_spec(table, pools, "relit", card_rng(987, i)).light_azimuth_deg for i in range(200)]
    assert all(azimuth is not None and 0 <= azimuth < 360 for azimuth in azimuths)
    held_apart = HELDOUT_LIGHT_AZIMUTH_DEG
    assert min(abs((azimuth - held_apart + 180) % 360 - 180) for azimuth in azimuths) >= 30
    assert {int(azimuth // 90) for azimuth in azimuths} == {0, 1, 2, 3}, "light from every quarter"
    assert all(sample_spec(table, pools, level, card_rng(987, 0)).light_azimuth_deg is None
               for level in ALL_LEVELS if level != "relit")


def test_a_drawn_light_shades_raised_digits_as_the_fixed_lights_do() -> None:
    """A card lit from 135 degrees (top left) or 45 (top right) is shaded as the fixed lights shade theirs;
    from below, the lit edges are the bottom ones and the shadow falls upwards."""
    table = default_table()
    pools = build_pools(table)
    severe = sample_spec(table, pools, "severe", card_rng(3, 0))
    heldout = sample_spec(table, pools, "heldout", card_rng(3, 0))
    assert emboss_light(severe) == (0.7, 0.7, 3, 3) and emboss_light(heldout) == (-0.7, 0.7, 3, -3)
    relit = sample_spec(table, pools, "relit", card_rng(3, 0))
    for azimuth, fixed in ((135.0, severe), (45.0, heldout)):
        weight_x, weight_y, rows, columns = emboss_light(replace(relit, light_azimuth_deg=azimuth))
        assert (weight_x, weight_y) == pytest.approx(emboss_light(fixed)[:2], abs=0.01)
        assert (rows, columns) == emboss_light(fixed)[2:]
    weight_x, weight_y, rows, columns = emboss_light(replace(relit, light_azimuth_deg=270.0))
    assert weight_x == pytest.approx(0, abs=1e-9) and weight_y < -0.9 and (rows, columns) == (-4, 0)


def test_new_levels_leave_the_old_ones_unchanged() -> None:
    table = default_table()
    pools = build_pools(table)
    for level in LEVELS:
        spec = sample_spec(table, pools, level, card_rng(5, 0))
        assert spec.expiry is None or (spec.expiry.form == "MM/YY" and spec.expiry.since is None)
        assert spec.digit_face in fonts.DIGIT_FACES


def test_a_forced_grouping_prints_every_number_that_way_on_tuning_levels_only(tmp_path: Path) -> None:
    table = default_table()
    pools = build_pools(table)
    specs = [sample_spec(table, pools, level, card_rng(77, i), grouping=(6, 13))
             for i in range(12) for level in ("hard", "severe")]
    assert {(len(spec.number.digits), spec.number.grouping) for spec in specs} == {(19, (6, 13))}
    assert all(luhn_valid(spec.number.digits) and table.plausible(spec.number.digits) for spec in specs)
    with pytest.raises(ValueError, match="evaluation only"):
        sample_spec(table, pools, "heldout", card_rng(77, 0), grouping=(6, 13))
    with pytest.raises(ValueError, match="19-digit layout"):
        sample_spec(table, pools, "hard", card_rng(77, 0), grouping=(4, 4, 4, 4))
