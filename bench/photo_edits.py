#!/usr/bin/env python3
"""Near-duplicate test sets from real photographs (python3-pil).

    photo_edits.py [--whole] OUT_DIR PHOTO... write the set, print its index

Each photograph is cut into two halves along its long side: two different
pictures that share light, colours and texture, so each half is the other's
look-alike distractor (--whole keeps each photograph whole, for a demo).
Each half ("original") gets the edits people make
every day, each at three strengths:

    jpeg     recompressed at quality 40, 20, 10
    resize   scaled to 1/2, 1/4, 1/8 of its sides
    crop     an off-centre crop keeping 90 %, 80 %, 70 % of each side
    bright   brightness x1.3, x0.7, x1.6 (with the clipping that brings)
    rotate   rotated 3, 6, 10 degrees, cropped to the largest upright
             rectangle inside (no black corners)
    mirror   mirrored; mirrored and recompressed at 40; mirrored and
             cropped to 85 %

The index on stdout has one line per image: GROUP<TAB>ROLE<TAB>PATH, where
GROUP names the half and ROLE is "original" or the edit ("crop-2").  The
set is the same for the same photographs on every run (seeded).
"""
import math
import os
import random
import re
import sys

from PIL import Image, ImageEnhance, ImageOps

ORIGINAL_LONG_SIDE = 640


def load_rgb(path):
    im = Image.open(path)
    im.load()
    if im.mode in ("RGBA", "LA", "P"):
        im = im.convert("RGBA")
        back = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(back, im)
    return im.convert("RGB")


def halves(im):
    w, h = im.size
    if w >= h:
        return [im.crop((0, 0, w // 2, h)), im.crop((w - w // 2, 0, w, h))]
    return [im.crop((0, 0, w, h // 2)), im.crop((0, h - h // 2, w, h))]


def fit(im, long_side):
    w, h = im.size
    s = long_side / max(w, h)
    if s >= 1:
        return im
    return im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.LANCZOS)


def crop_keep(im, keep, rng):
    w, h = im.size
    cw, ch = max(8, round(w * keep)), max(8, round(h * keep))
    x = rng.randint(0, w - cw)
    y = rng.randint(0, h - ch)
    return im.crop((x, y, x + cw, y + ch))


def rotate_inscribed(im, degrees):
    """Rotate and keep the largest axis-aligned rectangle of picture."""
    w, h = im.size
    a = math.radians(abs(degrees))
    rotated = im.rotate(degrees, resample=Image.BICUBIC, expand=True)
    # Largest rectangle of the original's aspect inside the rotated frame.
    sin, cos = math.sin(a), math.cos(a)
    scale = min(w / (w * cos + h * sin), h / (w * sin + h * cos))
    cw, ch = int(w * scale), int(h * scale)
    rw, rh = rotated.size
    x, y = (rw - cw) // 2, (rh - ch) // 2
    return rotated.crop((x, y, x + cw, y + ch))


def edits(im, rng):
    w, h = im.size
    mirrored = ImageOps.mirror(im)
    yield "jpeg-1", im, 40
    yield "jpeg-2", im, 20
    yield "jpeg-3", im, 10
    for i, s in enumerate((2, 4, 8), 1):
        yield f"resize-{i}", im.resize((max(8, w // s), max(8, h // s)), Image.BILINEAR), 85
    for i, keep in enumerate((0.9, 0.8, 0.7), 1):
        yield f"crop-{i}", crop_keep(im, keep, rng), 85
    for i, f in enumerate((1.3, 0.7, 1.6), 1):
        yield f"bright-{i}", ImageEnhance.Brightness(im).enhance(f), 85
    for i, d in enumerate((3, 6, 10), 1):
        yield f"rotate-{i}", rotate_inscribed(im, d if i % 2 else -d), 85
    yield "mirror-1", mirrored, 85
    yield "mirror-2", mirrored, 40
    yield "mirror-3", crop_keep(mirrored, 0.85, rng), 85


def main():
    args = sys.argv[1:]
    whole = args[:1] == ["--whole"]
    if whole:
        args = args[1:]
    out, photos = args[0], args[1:]
    os.makedirs(out, exist_ok=True)
    rng = random.Random(20261201)
    for photo in photos:
        name = os.path.splitext(os.path.basename(photo))[0]
        if re.fullmatch(r"\d+x\d+", name):  # a wallpaper package's size
            name = os.path.basename(os.path.dirname(os.path.dirname(os.path.dirname(photo))))
        im = load_rgb(photo)
        for side, half in zip("ab", [im] if whole else halves(im)):
            group = name if whole else f"{name}-{side}"
            original = fit(half, ORIGINAL_LONG_SIDE)
            path = os.path.join(out, f"{group}.jpg")
            original.save(path, quality=92)
            print(f"{group}\toriginal\t{path}")
            for role, edited, quality in edits(original, rng):
                path = os.path.join(out, f"{group}.{role}.jpg")
                edited.save(path, quality=quality)
                print(f"{group}\t{role}\t{path}")


if __name__ == "__main__":
    main()
