#!/usr/bin/env python3
"""Judges a folder of generated images against what was asked, with the independent judges of
tools/judge.py, and writes a contact sheet.

Manifest (JSON Lines), one record per image:
  {"file": "a.png", "style": "breeze", "content": "folder", "source_style": "papirus"}
  file          path relative to --images
  style         the requested style (what the style judge should see)
  content       optional: the content name asked for (dataset name, e.g. "folder", "emoji-2764")
  source_style  optional, img2img: the style of the source drawing

Printed:
  style accuracy  share of images the style judge assigns to the requested style (overall and
                  per style); chance is 1/15.
  content score   for records with a content: the image's nearest neighbour (cosine, content
                  embedding) among the held-out real drawings of the source style (img2img) or
                  the requested style (text-to-image) must be the drawing of the same content.
                  Top-1 and top-5 rates, next to chance (1 / candidates).
Writes a contact sheet (rows = styles, columns = contents) to --sheet.

  python3 tools/evaluate.py run --images DIR --manifest DIR/manifest.jsonl --data DATA --judges J --sheet out.png
  python3 tools/evaluate.py real-manifest --data DATA --out DIR [--shuffle]   (ceiling / chance check)
"""
import argparse
import json
import os
import random
import sys

import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from judge import embed, load_images, load_judges, load_split, predict_styles  # noqa: E402


def contact_sheet(records, images_dir, path, max_columns=16):
    styles = sorted({r["style"] for r in records})
    contents = []
    for r in records:
        c = r.get("content", r["file"])
        if c not in contents:
            contents.append(c)
    contents = contents[:max_columns]
    sheet = Image.new("RGB", (64 * len(contents), 64 * len(styles)), (128, 128, 128))
    for r in records:
        c = r.get("content", r["file"])
        if c in contents:
            img = Image.open(os.path.join(images_dir, r["file"])).convert("RGB").resize((64, 64))
            sheet.paste(img, (64 * contents.index(c), 64 * styles.index(r["style"])))
    sheet.save(path)
    return styles, contents


def run(args):
    records = [json.loads(l) for l in open(args.manifest) if l.strip()]
    judge, content_model = load_judges(args.judges)
    images = load_images([os.path.join(args.images, r["file"]) for r in records])
    pred = predict_styles(judge, images)
    styles = judge.styles
    unknown = sorted({r["style"] for r in records} - set(styles))
    if unknown:
        sys.exit(f"unknown styles in manifest: {unknown}")
    hits = [styles[p] == r["style"] for p, r in zip(pred.tolist(), records)]
    print(f"{len(records)} images; style accuracy {100 * sum(hits) / len(hits):.1f}% (chance {100 / len(styles):.1f}%)")
    for s in sorted({r["style"] for r in records}):
        h = [x for x, r in zip(hits, records) if r["style"] == s]
        print(f"  {s:11s} {100 * sum(h) / len(h):5.1f}%  (n={len(h)})")

    with_content = [i for i, r in enumerate(records) if r.get("content")]
    if with_content:
        held, held_images = load_split(args.data, "heldout")
        gallery_z = embed(content_model, held_images)
        query_z = embed(content_model, images[with_content])
        top1 = top5 = 0
        chance = []
        for qi, i in enumerate(with_content):
            r = records[i]
            gstyle = r.get("source_style") or r["style"]
            idx = [k for k, h in enumerate(held) if h["style"] == gstyle]
            names = [held[k]["content"] for k in idx]
            if r["content"] not in names:
                continue
            sims = gallery_z[idx] @ query_z[qi]
            order = sims.argsort(descending=True).tolist()
            ranked = [names[o] for o in order]
            top1 += ranked[0] == r["content"]
            top5 += r["content"] in ranked[:5]
            chance.append(1 / len(idx))
        n = len(chance)
        if n:
            print(f"content score on {n} images: top-1 {100 * top1 / n:.1f}%, top-5 {100 * top5 / n:.1f}% "
                  f"(chance top-1 {100 * sum(chance) / n:.2f}%, top-5 {500 * sum(chance) / n:.2f}%)")
        else:
            print("content score: no record's content has a held-out drawing in its gallery style")
    if args.sheet:
        contact_sheet(records, args.images, args.sheet)
        print(f"contact sheet: {args.sheet}")


def real_manifest(args):
    """Held-out real drawings posed as conversions: for content n drawn in styles A and S, the
    'generated' image is the real S drawing, requested style S, source style A. With --shuffle
    the requested styles and contents are permuted across records (a chance-level check)."""
    rng = random.Random(args.seed)
    held = [json.loads(l) for l in open(os.path.join(args.data, "manifest.jsonl"))]
    held = [r for r in held if r["split"] == "heldout"]
    by_content = {}
    for r in held:
        by_content.setdefault(r["content"], {})[r["style"]] = r
    records = []
    for content, drawings in sorted(by_content.items()):
        styles = sorted(drawings)
        if len(styles) < 2:
            continue
        for target in styles:
            source = rng.choice([s for s in styles if s != target])
            records.append({"file": os.path.abspath(os.path.join(args.data, drawings[target]["file"])),
                            "style": target, "content": content, "source_style": source})
    if args.shuffle:
        labels = [(r["style"], r["content"], r["source_style"]) for r in records]
        rng.shuffle(labels)
        for r, (s, c, ss) in zip(records, labels):
            r["style"], r["content"], r["source_style"] = s, c, ss
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "manifest.jsonl"), "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    print(f"{len(records)} records written to {args.out}/manifest.jsonl (files are absolute paths: use --images /)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--images", required=True)
    r.add_argument("--manifest", required=True)
    r.add_argument("--data", required=True, help="the style dataset (held-out drawings are the content gallery)")
    r.add_argument("--judges", required=True, help="folder written by tools/judge.py train")
    r.add_argument("--sheet", help="contact sheet PNG to write")
    m = sub.add_parser("real-manifest")
    m.add_argument("--data", required=True)
    m.add_argument("--out", required=True)
    m.add_argument("--shuffle", action="store_true")
    m.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    run(args) if args.command == "run" else real_manifest(args)


if __name__ == "__main__":
    main()
