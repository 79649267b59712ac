#!/usr/bin/env python3
"""Generate the synthetic demo dataset shipped in ``opsml_image/demo_data/``.

Draws simple, clearly synthetic street scenes with Pillow (sky gradient, ground, road, sun or moon, clouds,
houses, trees, cars) and writes a Hugging Face ``imagefolder`` layout with ``train``/``validation`` splits::

    demo_data/categories.json            ["car", "house", "tree"]  (index = category id)
    demo_data/LICENSE.md                 CC0 1.0
    demo_data/<split>/metadata.jsonl     one record per image
    demo_data/<split>/scene_NNN.jpg|png

Each annotated record has COCO boxes ``[x, y, w, h]`` (pixels, top-left origin) computed from the drawn
geometry: the tight rectangle around the whole object (roof, wheels, crown included), clipped to the image.
Every box is cross-checked against a mask of the same shapes. Two images carry only a caption so users can
annotate them. The output is deterministic (fixed seed): ``python scripts/make_demo.py [--out DIR]``.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw

SEED = 20240611
CATEGORIES = ["car", "house", "tree"]
CAR, HOUSE, TREE = range(3)
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "opsml_image" / "demo_data"

# (split, file name, (width, height), time of day, annotated?)
SCENES: list[tuple[str, str, tuple[int, int], str, bool]] = [
    ("train", "scene_001.jpg", (640, 480), "day", True),
    ("train", "scene_002.jpg", (800, 600), "morning", True),
    ("train", "scene_003.jpg", (1024, 768), "evening", True),
    ("train", "scene_004.png", (640, 480), "day", True),
    ("train", "scene_005.jpg", (480, 640), "day", False),
    ("train", "scene_006.jpg", (800, 600), "dusk", True),
    ("train", "scene_007.jpg", (640, 480), "overcast", True),
    ("train", "scene_008.jpg", (1024, 768), "day", True),
    ("train", "scene_009.jpg", (800, 600), "morning", True),
    ("validation", "scene_010.jpg", (640, 480), "evening", True),
    ("validation", "scene_011.png", (480, 640), "day", True),
    ("validation", "scene_012.jpg", (800, 600), "overcast", False),
]

RGB = tuple[int, int, int]
# sky top, sky at the horizon, ground near, ground far, light source ("sun"/"moon"/None)
PALETTES: dict[str, tuple[RGB, RGB, RGB, RGB, str | None]] = {
    "day": ((60, 125, 215), (175, 215, 250), (70, 150, 55), (110, 175, 80), "sun"),
    "morning": ((110, 160, 225), (250, 215, 175), (80, 150, 70), (130, 170, 100), "sun"),
    "evening": ((55, 65, 145), (250, 150, 85), (55, 110, 45), (105, 120, 60), "sun"),
    "dusk": ((20, 22, 60), (110, 75, 115), (30, 60, 35), (50, 70, 50), "moon"),
    "overcast": ((140, 146, 158), (200, 204, 210), (75, 125, 70), (110, 140, 95), None),
}
PHRASES = {
    "day": "on a sunny day",
    "morning": "in the early morning",
    "evening": "at sunset",
    "dusk": "at dusk under the moon",
    "overcast": "on an overcast day",
}
CAR_COLORS = {
    "red": (200, 35, 40),
    "blue": (40, 80, 190),
    "yellow": (235, 190, 40),
    "green": (40, 140, 80),
    "white": (235, 235, 235),
    "black": (35, 35, 40),
    "orange": (235, 120, 30),
}
WALL_COLORS = [(225, 205, 160), (200, 120, 90), (235, 235, 220), (160, 180, 200), (215, 170, 120)]
ROOF_COLORS = [(140, 50, 40), (90, 60, 50), (70, 70, 80), (160, 90, 50)]
NUMBERS = ["no", "one", "two", "three", "four", "five", "six"]


@dataclass
class Shape:
    """One filled primitive: ``rect``/``ellipse`` with an inclusive box, or ``polygon`` with points."""

    kind: str
    coords: list[tuple[int, int]]
    fill: RGB

    def draw(self, draw: ImageDraw.ImageDraw, fill: RGB | int | None = None) -> None:
        fill = self.fill if fill is None else fill
        if self.kind == "rect":
            draw.rectangle(self.coords, fill=fill)
        elif self.kind == "ellipse":
            draw.ellipse(self.coords, fill=fill)
        else:
            draw.polygon(self.coords, fill=fill)


@dataclass
class Obj:
    """A labelled object: its outline shapes (which define the box) plus details drawn on top."""

    category: int
    shapes: list[Shape]
    details: list[Shape] = field(default_factory=list)
    color_name: str = ""

    def shift(self, dx: int) -> None:
        """Move the whole object horizontally by ``dx`` pixels."""
        for shape in (*self.shapes, *self.details):
            shape.coords = [(x + dx, y) for x, y in shape.coords]

    def extent(self) -> tuple[int, int, int, int]:
        """Inclusive pixel extent (x0, y0, x1, y1) of the outline (Pillow fills shapes inclusively)."""
        xs = [x for s in self.shapes for x, _ in s.coords]
        ys = [y for s in self.shapes for _, y in s.coords]
        return min(xs), min(ys), max(xs), max(ys)

    def bbox(self, width: int, height: int) -> list[float] | None:
        """COCO ``[x, y, w, h]`` clipped to the image, or None if nothing is visible."""
        x0, y0, x1, y1 = self.extent()
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = min(x1 + 1, width), min(y1 + 1, height)  # exclusive right/bottom edges
        if x1 <= x0 or y1 <= y0:
            return None
        return [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]


def lerp(a: RGB, b: RGB, t: float) -> RGB:
    return tuple(round(u + (v - u) * t) for u, v in zip(a, b, strict=True))  # type: ignore[return-value]


def shade(c: RGB, f: float) -> RGB:
    return tuple(max(0, min(255, round(v * f))) for v in c)  # type: ignore[return-value]


def make_house(rng: random.Random, x: int, base: int, s: float, lit: bool) -> Obj:
    bw, bh = round(rng.uniform(95, 150) * s), round(rng.uniform(60, 95) * s)
    rh, ov = round(rng.uniform(35, 60) * s), round(rng.uniform(6, 12) * s)
    wall, roof = rng.choice(WALL_COLORS), rng.choice(ROOF_COLORS)
    top = base - bh
    body = Shape("rect", [(x, top), (x + bw - 1, base)], wall)
    roof_shape = Shape("polygon", [(x - ov, top), (x + bw // 2, top - rh), (x + bw - 1 + ov, top)], roof)
    details = []
    dw, dh = round(bw * 0.18), round(bh * 0.5)
    dx = x + rng.choice([round(bw * 0.15), (bw - dw) // 2, round(bw * 0.67)])
    details.append(Shape("rect", [(dx, base - dh), (dx + dw, base)], shade(roof, 0.8)))
    win = (250, 220, 120) if lit else (150, 200, 230)
    ws = round(bh * 0.25)
    for wx in (x + round(bw * 0.1), x + bw - round(bw * 0.1) - ws):
        if wx + ws < dx - 2 or wx > dx + dw + 2:
            wy = top + round(bh * 0.2)
            details.append(Shape("rect", [(wx, wy), (wx + ws, wy + ws)], win))
            details.append(Shape("rect", [(wx + ws // 2 - 1, wy), (wx + ws // 2, wy + ws)], wall))
    return Obj(HOUSE, [body, roof_shape], details)


def make_tree(rng: random.Random, cx: int, base: int, s: float, dark: float) -> Obj:
    tw, th = round(rng.uniform(10, 16) * s), round(rng.uniform(28, 48) * s)
    cw, ch = round(rng.uniform(50, 90) * s), round(rng.uniform(55, 95) * s)
    trunk_top = base - th
    crown_bottom = trunk_top + round(ch * 0.25)
    trunk = Shape(
        "rect", [(cx - tw // 2, trunk_top), (cx - tw // 2 + tw - 1, base)], shade((110, 75, 45), dark)
    )
    green = shade(rng.choice([(45, 125, 50), (60, 145, 60), (35, 105, 55), (85, 150, 45)]), dark)
    crown = Shape(
        "ellipse", [(cx - cw // 2, crown_bottom - ch), (cx - cw // 2 + cw - 1, crown_bottom)], green
    )
    hl = round(cw * 0.3)
    details = [
        Shape(
            "ellipse",
            [
                (cx - cw // 4, crown_bottom - ch + round(ch * 0.18)),
                (cx - cw // 4 + hl, crown_bottom - ch // 2),
            ],
            shade(green, 1.2),
        )
    ]
    return Obj(TREE, [crown, trunk], details)


def make_car(rng: random.Random, x: int, base: int, s: float) -> Obj:
    length, bh = round(rng.uniform(110, 160) * s), round(rng.uniform(26, 34) * s)
    r = round(rng.uniform(12, 15) * s)
    cabin_h = round(rng.uniform(20, 28) * s)
    color_name = rng.choice(sorted(CAR_COLORS))
    color = CAR_COLORS[color_name]
    body_bottom = base - r  # wheel centres sit on the bottom edge of the body
    body_top = body_bottom - bh
    body = Shape("rect", [(x, body_top), (x + length - 1, body_bottom)], color)
    a, b = (0.22, 0.72) if rng.random() < 0.5 else (0.28, 0.78)
    c0, c1 = x + round(length * a), x + round(length * b)
    slope = round(cabin_h * 0.6)
    top = body_top - cabin_h
    cabin = Shape(
        "polygon", [(c0, body_top), (c0 + slope, top), (c1 - slope, top), (c1, body_top)], shade(color, 0.85)
    )
    wheels = []
    for wx in (x + round(length * 0.2), x + round(length * 0.8)):
        wheels.append(Shape("ellipse", [(wx - r, body_bottom - r), (wx + r, body_bottom + r)], (25, 25, 25)))
    glass = [
        (c0 + 4, body_top - 1),
        (c0 + slope + 2, top + 4),
        (c1 - slope - 2, top + 4),
        (c1 - 4, body_top - 1),
    ]
    pillar = [((c0 + c1) // 2 - 1, top + 3), ((c0 + c1) // 2 + 1, body_top)]
    details = [Shape("polygon", glass, (170, 210, 235)), Shape("rect", pillar, shade(color, 0.85))]
    for wx in (x + round(length * 0.2), x + round(length * 0.8)):
        hub = max(2, r // 2)
        details.append(
            Shape("ellipse", [(wx - hub, body_bottom - hub), (wx + hub, body_bottom + hub)], (170,) * 3)
        )
    return Obj(CAR, [body, cabin, *wheels], details, color_name)


def spread(rng: random.Random, n: int, lo: int, hi: int) -> list[int]:
    """n positions in [lo, hi), one per equal slot, jittered inside its slot."""
    slot = (hi - lo) / max(n, 1)
    return [round(lo + slot * (i + rng.uniform(0.05, 0.55))) for i in range(n)]


def render(rng: random.Random, size: tuple[int, int], tod: str) -> tuple[Image.Image, list[Obj]]:
    w, h = size
    s = min(w, h) / 480
    sky_top, sky_low, ground_near, ground_far, light = PALETTES[tod]
    dark = 0.6 if tod == "dusk" else 0.85 if tod == "evening" else 1.0
    horizon = round(h * rng.uniform(0.5, 0.6))
    img = Image.new("RGB", size)
    d = ImageDraw.Draw(img)
    for y in range(horizon):
        d.line([(0, y), (w, y)], fill=lerp(sky_top, sky_low, y / horizon))
    if light == "sun":
        sr = round(rng.uniform(26, 40) * s)
        sy = {"day": 0.25, "morning": 0.55, "evening": 0.8}[tod] * horizon
        sx = rng.uniform(0.1, 0.9) * w
        glow = lerp((255, 240, 140), sky_low, 0.6)
        d.ellipse([sx - sr * 1.4, sy - sr * 1.4, sx + sr * 1.4, sy + sr * 1.4], fill=glow)
        d.ellipse(
            [sx - sr, sy - sr, sx + sr, sy + sr], fill=(255, 230, 90) if tod != "evening" else (255, 150, 60)
        )
    elif light == "moon":
        mr, mx, my = round(22 * s), rng.uniform(0.15, 0.85) * w, 0.22 * horizon
        d.ellipse([mx - mr, my - mr, mx + mr, my + mr], fill=(240, 240, 215))
        for _ in range(40):
            x, y = rng.uniform(0, w), rng.uniform(0, horizon * 0.8)
            d.point((x, y), fill=(230, 230, 255))
    n_clouds = rng.randint(4, 7) if tod == "overcast" else rng.randint(0, 3)
    cloud = (235, 235, 240) if tod != "dusk" else (80, 75, 105)
    if tod == "overcast":
        cloud = (175, 178, 186)
    for _ in range(n_clouds):
        cx, cy, cw = rng.uniform(0, w), rng.uniform(0.1, 0.6) * horizon, rng.uniform(60, 130) * s
        for k in range(4):
            ox, oy = (k - 1.5) * cw * 0.28, -abs(k - 1.5) * cw * 0.06 + (k % 2) * cw * 0.05
            d.ellipse(
                [cx + ox - cw * 0.25, cy + oy - cw * 0.16, cx + ox + cw * 0.25, cy + oy + cw * 0.16],
                fill=cloud,
            )

    for y in range(horizon, h):
        d.line([(0, y), (w, y)], fill=lerp(ground_far, ground_near, (y - horizon) / (h - horizon)))
    road_top = horizon + round((h - horizon) * rng.uniform(0.5, 0.58))
    road_bottom = road_top + round((h - horizon) * 0.3)
    d.rectangle([0, road_top, w, road_bottom], fill=shade((95, 95, 100), dark))
    d.rectangle([0, road_top, w, road_top + max(2, round(3 * s))], fill=shade((160, 160, 160), dark))
    mid = (road_top + road_bottom) // 2
    dash = round(40 * s)
    for x in range(-dash // 2, w, dash * 2):
        d.rectangle(
            [x, mid - max(1, round(2 * s)), x + dash, mid + max(1, round(2 * s))], fill=(230, 220, 150)
        )

    objects: list[Obj] = []
    n_houses = rng.randint(1, 3) if w >= h else rng.randint(1, 2)
    # left edge of the next house (roof included): houses never overlap
    cursor = round(rng.uniform(10, 140) * s)
    for _ in range(n_houses):
        house = make_house(rng, 0, horizon + round(rng.uniform(8, 22) * s), s, tod == "dusk")
        x0, _, x1, _ = house.extent()
        if cursor + x1 - x0 >= w:
            break
        house.shift(cursor - x0)
        objects.append(house)
        cursor += x1 - x0 + round(rng.uniform(15, 110) * s)
    n_trees = rng.randint(1, 4)
    trees = [
        make_tree(rng, round(x), horizon + round(rng.uniform(25, 55) * s), s, dark)
        for x in spread(rng, n_trees, 0, w)
    ]
    objects.extend(sorted(trees, key=lambda t: t.extent()[3]))
    n_cars = rng.randint(0, 2) if w < 800 else rng.randint(1, 3)
    lane_y = [road_bottom - round(8 * s), mid - round(2 * s)]
    cars = [
        make_car(rng, x, lane_y[i % 2] if n_cars > 1 else lane_y[0], s)
        for i, x in enumerate(spread(rng, n_cars, round(-40 * s), w - round(90 * s)))
    ]
    objects.extend(sorted(cars, key=lambda c: c.extent()[3]))  # far lane first
    for obj in objects:
        for shape in (*obj.shapes, *obj.details):
            shape.draw(d)
    return img, objects


def caption_for(tod: str, objects: list[Obj]) -> str:
    def count(cat: int, noun: str) -> str:
        n = sum(o.category == cat for o in objects)
        return f"{NUMBERS[n]} {noun}{'' if n == 1 else 's'}"

    cars = [o.color_name for o in objects if o.category == CAR]
    if not cars:
        car_text = "an empty road"
    elif len(cars) == 1:
        car_text = f"{'an' if cars[0][0] in 'aeiou' else 'a'} {cars[0]} car on the road"
    else:
        car_text = f"{NUMBERS[len(cars)]} cars ({', '.join(cars)}) on the road"
    things = f"{count(HOUSE, 'house')}, {count(TREE, 'tree')} and {car_text}"
    return f"Synthetic street scene {PHRASES[tod]}: {things}."


def check_boxes(size: tuple[int, int], objects: list[Obj]) -> None:
    """Each box must equal the bounding box of a mask drawn with the object's outline shapes."""
    for obj in objects:
        mask = Image.new("L", size, 0)
        md = ImageDraw.Draw(mask)
        for shape in obj.shapes:
            shape.draw(md, fill=255)
        left, top, right, bottom = mask.getbbox()
        assert obj.bbox(*size) == [left, top, right - left, bottom - top], (obj, mask.getbbox())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    out: Path = parser.parse_args().out
    rng = random.Random(SEED)
    records: dict[str, list[dict]] = {}
    for split, _, _, _, _ in SCENES:
        shutil.rmtree(out / split, ignore_errors=True)
    for split, name, size, tod, annotated in SCENES:
        img, objects = render(rng, size, tod)
        check_boxes(size, objects)
        path = out / split / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".png":
            img.save(path, optimize=True)
        else:
            img.save(path, quality=85, optimize=True)
        rec: dict = {"file_name": name, "caption": caption_for(tod, objects)}
        if annotated:
            boxed = [(o.bbox(*size), o.category) for o in objects]
            boxed = [(b, c) for b, c in boxed if b is not None]
            rec["categories"] = sorted({c for _, c in boxed})
            rec["objects"] = {"bbox": [b for b, _ in boxed], "categories": [c for _, c in boxed]}
        records.setdefault(split, []).append(rec)
    for split, recs in records.items():
        lines = [json.dumps(r, separators=(", ", ": "), ensure_ascii=False) for r in recs]
        (out / split / "metadata.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out / "categories.json").write_text(json.dumps(CATEGORIES) + "\n", encoding="utf-8")
    (out / "LICENSE.md").write_text(LICENSE, encoding="utf-8")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {sum(map(len, records.values()))} images to {out} ({total / 1e6:.2f} MB)")


LICENSE = """\
# License: CC0 1.0 Universal (public domain dedication)

The images and annotations in this folder are synthetic: they were drawn programmatically with Pillow by
`scripts/make_demo.py` in the opsml-image repository (fixed random seed, no photographs or third-party
material). To the extent possible under law, the authors have waived all copyright and related or neighboring
rights to this demo dataset: https://creativecommons.org/publicdomain/zero/1.0/

Categories (`categories.json`, index = category id): car, house, tree.
Boxes in `metadata.jsonl` use the COCO convention `[x, y, width, height]` in pixels from the top-left corner.
"""


if __name__ == "__main__":
    main()
