#!/usr/bin/env python3
"""Writes Tests/Fixtures/resize/: seeded random RGB images and PIL's antialiased resizes of each:
bilinear to 64x64 (Image.resize(..., Image.BILINEAR), what diffusers' preprocessing and
stylediff's ImageResampler follow) and bicubic to 64x64, 48x32 and 32x48 (Pillow takes the vertical pass first when the width grows
and the height shrinks) (Image.BICUBIC, what
CLIPImageProcessor uses for IP-Adapter reference images). Needs only pillow and numpy
(tools/requirements.txt).

  python3 tools/make_resize_fixtures.py
"""
import json
import os

import numpy as np
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "resize")
# (width, height) of each source: shrink from non-square and larger, a 2x shrink, an upscale.
SOURCES = [(37, 50), (128, 128), (200, 75), (40, 40)]
TARGET = 64


def main():
    os.makedirs(ROOT, exist_ok=True)
    rng = np.random.default_rng(20261130)
    cases = []
    for w, h in SOURCES:
        # Smooth content plus noise, so both the filter shape and rounding show.
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack([(xx * 255 / max(w - 1, 1)), (yy * 255 / max(h - 1, 1)), ((xx + yy) % 32) * 8], axis=-1)
        pixels = np.clip(base + rng.integers(-40, 41, size=(h, w, 3)), 0, 255).astype(np.uint8)
        name = f"source_{w}x{h}"
        Image.fromarray(pixels, "RGB").save(os.path.join(ROOT, name + ".png"))
        resized = Image.fromarray(pixels, "RGB").resize((TARGET, TARGET), Image.BILINEAR)
        resized.save(os.path.join(ROOT, name + f"_to{TARGET}.png"))
        cases.append({"source": name + ".png", "resized": name + f"_to{TARGET}.png", "width": TARGET, "height": TARGET,
                      "filter": "bilinear"})
        for tw, th in ((TARGET, TARGET), (48, 32), (32, 48)):
            out = name + f"_bicubic_{tw}x{th}.png"
            Image.fromarray(pixels, "RGB").resize((tw, th), Image.BICUBIC).save(os.path.join(ROOT, out))
            cases.append({"source": name + ".png", "resized": out, "width": tw, "height": th, "filter": "bicubic"})
    with open(os.path.join(ROOT, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1)
    print(f"wrote {len(cases)} resize cases to {os.path.normpath(ROOT)}")


if __name__ == "__main__":
    main()
