"""Turn a flat card face into a photo of that card, degraded as the level says.

Why these degradations: they are what goes wrong in real card photos: the card is tilted and seen at an
angle, small in a large frame, on a busy table, sideways or upside down; the camera shakes or misfocuses;
a lamp leaves a glare spot on the glossy number or a hand leaves a shadow; the room is dim; the JPEG is
squeezed. Every step also moves the label's geometry, so the labels give the card's and the number's
corners in the final image's pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

from scripts.cards.render import Box, CardLayout
from scripts.cards.spec import CARD_HEIGHT, CARD_WIDTH, LevelProfile

Quad = list[list[float]]


@dataclass
class Photo:
    """The photographed card and what was done to it."""

    image: Image.Image
    rotation: int
    card_quad: Quad
    number_quad: Quad
    degradations: list[str] = field(default_factory=list)
    expiry_quad: Quad | None = None


def photograph(card: Image.Image, layout: CardLayout, profile: LevelProfile, rng: np.random.Generator) -> Photo:
    """Place ``card`` (RGBA face) in a photo frame and apply ``profile``'s degradations.

    Parameters:
        card: the face from :func:`scripts.cards.render.render_card`.
        layout: where the number is on the face, to aim glare at it and to label its corners.
        profile: the level's ranges.
        rng: the card's random generator.
    """
    degradations: list[str] = []
    if profile.card_width_px is None:
        long_side = int(rng.integers(1000, 1601))
        frame_w, frame_h = long_side, int(long_side * rng.uniform(0.66, 0.8))
        frame = _background(frame_w, frame_h, profile.busy_background, rng)
        fill = rng.uniform(*profile.card_fill)
    else:
        # a small card: the frame is sized so that the card comes out card_width_px wide
        fill = rng.uniform(*profile.card_fill)
        wanted = rng.uniform(*profile.card_width_px)
        frame_w = int(wanted / fill)
        frame_h = int(frame_w * rng.uniform(0.66, 0.8))
        frame = _background(frame_w, frame_h, profile.busy_background, rng)
        degradations.append(f"card {wanted:.0f}px wide")
    card_w = frame_w * fill
    card_w = min(card_w, frame_h * 0.92 * CARD_WIDTH / CARD_HEIGHT)
    card_h = card_w * CARD_HEIGHT / CARD_WIDTH
    tilt = np.deg2rad(rng.uniform(-profile.max_tilt_deg, profile.max_tilt_deg))
    if profile.max_tilt_deg:
        degradations.append(f"tilt {np.rad2deg(tilt):+.1f}deg")
    centre = np.array(
        [frame_w / 2 + rng.uniform(-0.08, 0.08) * frame_w, frame_h / 2 + rng.uniform(-0.08, 0.08) * frame_h]
    )
    corners = np.array(
        [[-card_w / 2, -card_h / 2], [card_w / 2, -card_h / 2], [card_w / 2, card_h / 2], [-card_w / 2, card_h / 2]]
    )
    rotation = np.array([[np.cos(tilt), -np.sin(tilt)], [np.sin(tilt), np.cos(tilt)]])
    destination = corners @ rotation.T + centre
    if profile.perspective:
        destination += rng.uniform(-profile.perspective, profile.perspective, size=(4, 2)) * card_w
        degradations.append("perspective")
    destination = _keep_inside(destination, frame_w, frame_h)
    source = np.array([[0, 0], [CARD_WIDTH, 0], [CARD_WIDTH, CARD_HEIGHT], [0, CARD_HEIGHT]], dtype=np.float32)
    homography = cv2.getPerspectiveTransform(source, destination.astype(np.float32))

    frame = _composite(frame, card, homography, profile.busy_background, rng)
    number_quad = _project(homography, _box_corners(layout.number_box))
    expiry_quad = _project(homography, _box_corners(layout.expiry_box)) if layout.expiry_box else None

    pixels = frame.astype(np.float32)
    severe = _severe_degradations(profile, rng)
    if "shadow" in severe:
        pixels = _shadow(pixels, rng)
    if "glare" in severe:
        glare = _hard_glare if profile.glare_kind == "hard" else _glare
        pixels = glare(pixels, number_quad, rng.uniform(*profile.glare_strength), rng)
    if "low light" in severe:
        pixels = _low_light(pixels, rng)
    degradations.extend(name for name in SEVERE_DEGRADATIONS if name in severe and name != "motion blur")
    sigma = rng.uniform(*profile.blur_sigma)
    if sigma > 0.05:
        pixels = cv2.GaussianBlur(pixels, (0, 0), sigma)
        degradations.append(f"blur {sigma:.1f}")
    if "motion blur" in severe:
        length = int(rng.integers(profile.motion_length[0], profile.motion_length[1] + 1))
        blur = _line_motion_blur if profile.motion_kernel == "line" else _motion_blur
        pixels = blur(pixels, length, rng.uniform(0, 180))
        degradations.append(f"motion blur {length}px")
    if profile.contrast is not None:
        factor = rng.uniform(*profile.contrast)
        centre = float(pixels.mean()) if profile.contrast_around_mean else 128.0
        pixels = centre + (pixels - centre) * factor
        degradations.append(f"contrast {factor:.2f}")
    noise = rng.uniform(*profile.noise_sigma)
    if noise > 0.05:
        pixels = pixels + rng.normal(0, noise, size=pixels.shape).astype(np.float32)
        degradations.append(f"noise {noise:.1f}")
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")

    quarter_turns = 0
    if rng.random() < profile.right_angle_share:
        quarter_turns = int(rng.integers(1, 4))
    card_quad = _project(homography, _box_corners((0, 0, CARD_WIDTH, CARD_HEIGHT)))
    if quarter_turns:
        card_quad = _rotate_points(card_quad, quarter_turns, image.size)
        number_quad = _rotate_points(number_quad, quarter_turns, image.size)
        if expiry_quad is not None:
            expiry_quad = _rotate_points(expiry_quad, quarter_turns, image.size)
        image = image.rotate(90 * quarter_turns, expand=True)
    return Photo(image, 90 * quarter_turns, card_quad, number_quad, degradations, expiry_quad)


SEVERE_DEGRADATIONS = ("shadow", "glare", "low light", "motion blur")


def _severe_degradations(profile: LevelProfile, rng: np.random.Generator) -> set[str]:
    """Draw each severe degradation by its share, then keep at most ``profile.max_severe`` of them: a photo
    that is dark, shaken, glared and shadowed at once is unreadable to people too, and real ones rarely are."""
    shares = {
        "shadow": profile.shadow_share,
        "glare": profile.glare_share,
        "low light": profile.low_light_share,
        "motion blur": profile.motion_blur_share,
    }
    drawn = [name for name in SEVERE_DEGRADATIONS if rng.random() < shares[name]]
    order = rng.permutation(len(drawn))
    return {drawn[int(i)] for i in order[: profile.max_severe]}


def _background(width: int, height: int, busy: bool, rng: np.random.Generator) -> np.ndarray:
    base = (
        rng.integers(140, 235, size=3).astype(np.float32)
        if not busy
        else rng.integers(30, 220, size=3).astype(np.float32)
    )
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    shade = 1 - 0.15 * (xs / width) - 0.1 * (ys / height)
    pixels = base[None, None, :] * shade[..., None]
    if busy:
        kind = int(rng.integers(3))
        if kind == 0:  # wood grain
            grain = np.sin(ys / rng.uniform(6, 20) + 3 * np.sin(xs / rng.uniform(60, 200))) * rng.uniform(10, 25)
            pixels += grain[..., None]
        elif kind == 1:  # fabric
            pixels += rng.normal(0, 12, size=(height, width, 1)).astype(np.float32)
            pixels = cv2.GaussianBlur(pixels, (0, 0), 1.2)
        else:  # clutter: papers, a keyboard edge, a phone
            for _ in range(int(rng.integers(3, 8))):
                x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
                x1, y1 = x0 + int(rng.integers(80, 500)), y0 + int(rng.integers(60, 400))
                colour = rng.integers(0, 256, size=3).astype(np.float32)
                pixels[y0:y1, x0:x1] = pixels[y0:y1, x0:x1] * 0.3 + colour * 0.7
        pixels = cv2.GaussianBlur(pixels, (0, 0), 2.0)  # the background is out of focus
    return np.clip(pixels, 0, 255)


def _composite(
    frame: np.ndarray, card: Image.Image, homography: np.ndarray, drop_shadow: bool, rng: np.random.Generator
) -> np.ndarray:
    size = (frame.shape[1], frame.shape[0])
    rgba = np.asarray(card, dtype=np.float32)
    warped = cv2.warpPerspective(
        rgba[..., :3], homography, size, flags=cv2.INTER_AREA if homography[0, 0] < 1 else cv2.INTER_LINEAR
    )
    alpha = cv2.warpPerspective(rgba[..., 3], homography, size, flags=cv2.INTER_LINEAR)[..., None] / 255.0
    if drop_shadow:
        offset = rng.integers(4, 14, size=2)
        shadow = np.roll(np.roll(alpha[..., 0], int(offset[1]), axis=0), int(offset[0]), axis=1)
        shadow = cv2.GaussianBlur(shadow, (0, 0), 8.0)[..., None]
        frame = frame * (1 - 0.45 * shadow)
    return frame * (1 - alpha) + warped * alpha


def _shadow(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    height, width = pixels.shape[:2]
    mask = np.zeros((height, width), np.float32)
    start = rng.uniform(0.2, 0.7) * width
    points = np.array(
        [[start, 0], [start + rng.uniform(-0.3, 0.3) * width, height], [width * 1.5, height], [width * 1.5, 0]],
        np.int32,
    )
    cv2.fillPoly(mask, [points], 1.0)
    mask = cv2.GaussianBlur(mask, (0, 0), rng.uniform(15, 45))
    return pixels * (1 - mask[..., None] * rng.uniform(0.3, 0.55))


def _glare(pixels: np.ndarray, number_quad: Quad, strength: float, rng: np.random.Generator) -> np.ndarray:
    """A soft specular spot over part of the number: bright, washed out, not a hole in the image."""
    height, width = pixels.shape[:2]
    quad = np.array(number_quad)
    along = rng.uniform(0.15, 0.85)
    centre = quad[0] + (quad[1] - quad[0]) * along + (quad[3] - quad[0]) * rng.uniform(0.0, 1.0)
    number_width = float(np.linalg.norm(quad[1] - quad[0]))
    radius_x, radius_y = number_width * rng.uniform(0.06, 0.16), number_width * rng.uniform(0.05, 0.12)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    spot = np.exp(-(((xs - centre[0]) / radius_x) ** 2 + ((ys - centre[1]) / radius_y) ** 2))
    spot = spot[..., None] * strength
    return pixels + (255.0 - pixels) * spot


def _hard_glare(pixels: np.ndarray, number_quad: Quad, strength: float, rng: np.random.Generator) -> np.ndarray:
    """A specular spot with a saturated core and a short falloff, as a flash or a lamp leaves on gloss."""
    height, width = pixels.shape[:2]
    quad = np.array(number_quad)
    centre = quad[0] + (quad[1] - quad[0]) * rng.uniform(0.1, 0.9) + (quad[3] - quad[0]) * rng.uniform(-0.2, 1.2)
    number_width = float(np.linalg.norm(quad[1] - quad[0]))
    radius_x, radius_y = number_width * rng.uniform(0.05, 0.14), number_width * rng.uniform(0.04, 0.1)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    distance = ((xs - centre[0]) / radius_x) ** 2 + ((ys - centre[1]) / radius_y) ** 2
    spot = np.clip(1.6 * np.exp(-(distance**2)), 0.0, 1.0)[..., None] * strength
    return pixels + (255.0 - pixels) * spot


def _low_light(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    gain = rng.uniform(0.55, 0.8)
    tint = np.array([1.0, rng.uniform(0.92, 1.0), rng.uniform(0.75, 0.92)], np.float32)  # warm indoor light
    darker = 255.0 * (pixels / 255.0) ** rng.uniform(1.1, 1.4) * gain * tint
    return darker + rng.normal(0, 4.0, size=pixels.shape).astype(np.float32)


def _motion_blur(pixels: np.ndarray, length: int, angle_deg: float) -> np.ndarray:
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    rotation = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), angle_deg, 1.0)
    kernel = cv2.warpAffine(kernel, rotation, (length, length))
    kernel /= max(float(kernel.sum()), 1e-6)
    return cv2.filter2D(pixels, -1, kernel)


def _line_motion_blur(pixels: np.ndarray, length: int, angle_deg: float) -> np.ndarray:
    """Motion blur as a one-pixel line of ``length`` drawn at ``angle_deg`` (no sub-pixel weights)."""
    size = length if length % 2 else length + 1
    kernel = np.zeros((size, size), np.float32)
    half = (length - 1) / 2
    dx, dy = half * np.cos(np.deg2rad(angle_deg)), half * np.sin(np.deg2rad(angle_deg))
    centre = size // 2
    cv2.line(kernel, (round(centre - dx), round(centre - dy)), (round(centre + dx), round(centre + dy)), 1.0, 1)
    kernel /= max(float(kernel.sum()), 1e-6)
    return cv2.filter2D(pixels, -1, kernel)


def _keep_inside(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """Shift (and if needed shrink) the quad so the whole card stays in the frame with a small margin."""
    margin = 0.02 * min(width, height)
    low, high = points.min(axis=0), points.max(axis=0)
    span = high - low
    limit = np.array([width - 2 * margin, height - 2 * margin])
    scale = float(min(1.0, *(limit / span)))
    centre = (low + high) / 2
    points = (points - centre) * scale + centre
    low, high = points.min(axis=0), points.max(axis=0)
    shift = np.maximum(0, margin - low) - np.maximum(0, high - (np.array([width, height]) - margin))
    return points + shift


def _box_corners(box: Box) -> np.ndarray:
    left, top, right, bottom = box
    return np.array([[left, top], [right, top], [right, bottom], [left, bottom]], dtype=np.float32)


def _project(homography: np.ndarray, points: np.ndarray) -> Quad:
    projected = cv2.perspectiveTransform(points.reshape(-1, 1, 2).astype(np.float32), homography).reshape(-1, 2)
    return [[round(float(x), 1), round(float(y), 1)] for x, y in projected]


def _rotate_points(points: Quad, quarter_turns: int, size: tuple[int, int]) -> Quad:
    """Where points land after ``Image.rotate(90 * quarter_turns, expand=True)`` (counter-clockwise)."""
    width, height = size
    rotated = []
    for x, y in points:
        for _ in range(quarter_turns):
            x, y = y, width - x
            width, height = height, width
        width, height = size
        rotated.append([round(x, 1), round(y, 1)])
    return rotated
