#!/usr/bin/env python3
"""Packs the style dataset into a small folder that travels to a GPU machine, and unpacks it there.

  python3 tools/pack_data.py pack --data /var/tmp/sd/data --out .gpu/data     # ~21 MB (xz)
  python3 tools/pack_data.py unpack --packed .gpu/data --data /tmp/w/data      # PNGs + manifest again

The pack holds manifest.jsonl, prompts.txt, VERSION and every record's 64x64 RGB pixels (the
order of the manifest) as one xz-compressed uint8 array; unpack writes them back as PNGs, so
the training scripts read the same pixels as from the original folder (checked on unpack).
"""
import argparse
import hashlib
import json
import lzma
import os
import shutil

import numpy as np
from PIL import Image

FILES = ("manifest.jsonl", "prompts.txt", "VERSION")


def pack(data, out):
    recs = [json.loads(l) for l in open(os.path.join(data, "manifest.jsonl"))]
    pixels = np.stack([np.asarray(Image.open(os.path.join(data, r["file"])).convert("RGB")) for r in recs])
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "images.u8.xz"), "wb") as f:
        f.write(lzma.compress(pixels.tobytes(), preset=6))
    with open(os.path.join(out, "images.sha256"), "w") as f:
        f.write(hashlib.sha256(pixels.tobytes()).hexdigest() + "\n")
    for name in FILES:
        shutil.copy(os.path.join(data, name), out)
    print(f"packed {len(recs)} images {pixels.shape[1:]} into {out}")


def unpack(packed, data):
    recs = [json.loads(l) for l in open(os.path.join(packed, "manifest.jsonl"))]
    raw = lzma.decompress(open(os.path.join(packed, "images.u8.xz"), "rb").read())
    want = open(os.path.join(packed, "images.sha256")).read().strip()
    if hashlib.sha256(raw).hexdigest() != want:
        raise SystemExit(f"{packed}/images.u8.xz does not match images.sha256")
    if len(raw) != len(recs) * 64 * 64 * 3:
        raise SystemExit(f"{packed}: {len(raw)} bytes of pixels for {len(recs)} records of 64x64x3")
    pixels = np.frombuffer(raw, np.uint8).reshape(len(recs), 64, 64, 3)
    for r, p in zip(recs, pixels):
        path = os.path.join(data, r["file"])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        Image.fromarray(p).save(path, compress_level=1)
    for name in FILES:
        shutil.copy(os.path.join(packed, name), data)
    print(f"unpacked {len(recs)} images into {data}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["pack", "unpack"])
    ap.add_argument("--data", required=True, help="the dataset folder (read by pack, written by unpack)")
    ap.add_argument("--out", help="pack: the folder to write")
    ap.add_argument("--packed", help="unpack: a folder written by pack")
    args = ap.parse_args()
    if args.command == "pack":
        pack(args.data, args.out or ap.error("pack needs --out"))
    else:
        unpack(args.packed or ap.error("unpack needs --packed"), args.data)


if __name__ == "__main__":
    main()
