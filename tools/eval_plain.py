#!/usr/bin/env python3
"""Judges a model on the held-out plain-word prompt set (Prompts/plain_words.json): everyday
words ("heart", "bin", "smiley") for objects the dataset names otherwise. Each word is generated
with the Swift CLI in up to --styles styles that have a drawing of one of its contents (prompt
"<word>, <style> style", 20 DDIM steps, guidance 10, the style's preset), and judged:

  content  the generation's nearest real drawing of its style (cosine, tools/judge.py's
           ContentEmbedder; gallery: every drawing of the style, both splits) is one of the
           word's contents: top-1 / top-5, next to chance (the contents' share of the gallery);
  style    the style judge names the requested style.
Checked on real drawings first (--real): a real drawing of one of the word's contents in another
style in place of the generation (the measure's ceiling), and one of another word's contents
(its floor). --caption-oracle prompts each item with the dataset's own training caption of one of
the word's contents in that style (style removed; the word itself when the style has none in the
train split) instead of the word: how much content the UNet draws when the text side is perfect,
the ceiling of any text encoder that maps the word to what the model was trained on.
--training-contents N does the same for N random training contents in place of the words: how
much of its own training data the model reproduces (the generation's own training drawing is in
the gallery).

  python3 tools/eval_plain.py --model Weights/default --data D --judges J --out O [--real]
Writes O/summary.json and O/sheet.png (one row per word: per generation a real drawing of the
word in that style, the generation; with --before DIR, an earlier run's image between them).
"""
import argparse
import json
import os
import random
import subprocess
import sys

import torch
from PIL import Image, ImageDraw

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from judge import embed, load_images, load_judges, predict_styles  # noqa: E402
from stylediff_model import strip_style, training_contents_sample  # noqa: E402


def retrieval(query_z, gallery_z, gallery_names, wanted):
    order = (gallery_z @ query_z).argsort(descending=True).tolist()
    ranked = [gallery_names[o] for o in order[:5]]
    return ranked[0] in wanted, any(r in wanted for r in ranked), ranked[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--judges", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--prompts", default=os.path.join(HERE, "..", "Prompts", "plain_words.json"))
    ap.add_argument("--styles", type=int, default=2, help="styles per word")
    ap.add_argument("--seed", type=int, default=0, help="pick set: styles and noise seeds")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--scheduler", help="sampler (default: the model's)")
    ap.add_argument("--guidance", type=float, default=10.0)
    ap.add_argument("--before", help="an earlier run's --out (same --seed and --styles): the sheet shows its images "
                                     "beside these, after a real drawing of the word in the same style")
    ap.add_argument("--real", action="store_true", help="also judge real drawings in place of generations (ceiling, floor)")
    ap.add_argument("--caption-oracle", action="store_true",
                    help="prompt with a training caption of one of the word's contents in the style instead of the word")
    ap.add_argument("--training-contents", type=int, metavar="N",
                    help="instead of the plain words: N random training contents (Random(0)), each prompted with "
                         "its own training caption in styles it was trained in (implies --caption-oracle): how "
                         "much of what it was trained on the model reproduces")
    ap.add_argument("--stylediff", default=os.path.join(HERE, "..", ".build", "release", "stylediff"))
    ap.add_argument("--threads", type=int)
    args = ap.parse_args()
    recs = [json.loads(l) for l in open(os.path.join(args.data, "manifest.jsonl"))]
    if args.training_contents is not None:
        words = [dict(prompt=c, contents=[c]) for c in training_contents_sample(recs, args.training_contents)]
        args.caption_oracle = True
    else:
        words = json.load(open(args.prompts))["prompts"]
    by_style = {}
    for r in recs:
        by_style.setdefault(r["style"], []).append(r)
    rng = random.Random(args.seed)
    items = []
    seed = 5000 + 100_000 * args.seed
    for w in words:
        wanted = set(w["contents"])
        styles = sorted({r["style"] for r in recs if r["content"] in wanted})
        for s in rng.sample(styles, min(args.styles, len(styles))):
            seed += 1
            captions = sorted(strip_style(r["prompt"]) for r in by_style[s] if r["content"] in wanted and r["split"] == "train")
            prompt = captions[(seed * 7919) % len(captions)] if args.caption_oracle and captions else w["prompt"]
            items.append(dict(word=w["prompt"], prompt=prompt, style=s, seed=seed, wanted=wanted))
    os.makedirs(args.out, exist_ok=True)
    judge, content = load_judges(args.judges)
    galleries = {}
    for s, rs in by_style.items():
        galleries[s] = ([r["content"] for r in rs], embed(content, load_images([os.path.join(args.data, r["file"]) for r in rs])))
    summary = dict(model=os.path.abspath(args.model), words=len(words), images=len(items), steps=args.steps,
                   scheduler=args.scheduler, guidance=args.guidance, seed=args.seed, caption_oracle=args.caption_oracle,
                   prompted_with_a_caption=sum(i["prompt"] != i["word"] for i in items))
    chance1 = sum(sum(n in i["wanted"] for n in galleries[i["style"]][0]) / len(galleries[i["style"]][0]) for i in items) / len(items)
    summary["chance_top1"] = 100 * chance1

    def score(images, label):
        z = embed(content, images)
        pred = predict_styles(judge, images).tolist()
        t1 = t5 = st = 0
        for k, i in enumerate(items):
            names, gz = galleries[i["style"]]
            a, b, _ = retrieval(z[k], gz, names, i["wanted"])
            t1 += a; t5 += b; st += judge.styles[pred[k]] == i["style"]
        n = len(items)
        summary[label] = dict(content_top1=100 * t1 / n, content_top5=100 * t5 / n, style=100 * st / n)
        print(f"{label}: content top-1 {100 * t1 / n:.1f}%, top-5 {100 * t5 / n:.1f}% (chance top-1 {100 * chance1:.1f}%), "
              f"style {100 * st / n:.1f}% over {n} images", flush=True)

    if args.real:
        real, floor = [], []
        for i in items:
            same = [r for r in recs if r["content"] in i["wanted"] and r["style"] != i["style"]]
            other = [r for r in recs if r["content"] not in i["wanted"] and r["style"] != i["style"]]
            real.append(os.path.join(args.data, rng.choice(same or [r for r in recs if r["content"] in i["wanted"]])["file"]))
            floor.append(os.path.join(args.data, rng.choice(other)["file"]))
        score(load_images(real), "real_drawing_of_the_word")
        score(load_images(floor), "real_drawing_of_another_word")
    lines = os.path.join(args.out, "prompts.jsonl")
    with open(lines, "w") as f:
        for k, i in enumerate(items):
            line = dict(prompt=i["prompt"], style=i["style"], seed=i["seed"], steps=args.steps, guidance=args.guidance,
                        name=f"{k:03d}-{i['word'].replace(' ', '_')}-{i['style']}")
            if args.scheduler:
                line["scheduler"] = args.scheduler
            f.write(json.dumps(line) + "\n")
    command = [args.stylediff, "batch", lines, "--out-dir", args.out, "--model", args.model]
    if args.threads:
        command += ["--threads", str(args.threads)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    files = [os.path.join(args.out, f"{k:03d}-{i['word'].replace(' ', '_')}-{i['style']}.png") for k, i in enumerate(items)]
    score(load_images(files), "generated")
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    # Contact sheet: one row per word, the word written beside it; per generation a real drawing
    # of the word in that style (when the style has one), the --before run's image, this image.
    def real_drawing(i):
        found = sorted(r["file"] for r in by_style[i["style"]] if r["content"] in i["wanted"])
        return Image.open(os.path.join(args.data, found[0])).convert("RGB") if found else Image.new("RGB", (64, 64), "white")

    rows = {}
    for k, i in enumerate(items):
        cells = [real_drawing(i)]
        if args.before:
            cells.append(Image.open(os.path.join(args.before, os.path.basename(files[k]))).convert("RGB"))
        cells.append(Image.open(files[k]).convert("RGB"))
        rows.setdefault(i["word"], []).append(cells)
    per_item = 3 if args.before else 2
    per_row = max(1, args.styles)
    sheet = Image.new("RGB", (110 + (66 * per_item + 12) * per_row, 66 * len(rows) + 16), "white")
    draw = ImageDraw.Draw(sheet)
    header = "real | before | after" if args.before else "real | generated"
    for x in range(per_row):
        draw.text((110 + (66 * per_item + 12) * x, 2), header, fill="black")
    for y, (word, groups) in enumerate(rows.items()):
        draw.text((4, 16 + 66 * y + 26), word, fill="black")
        for x, cells in enumerate(groups):
            for c, im in enumerate(cells):
                sheet.paste(im, (110 + (66 * per_item + 12) * x + 66 * c, 16 + 66 * y + 1))
    sheet.save(os.path.join(args.out, "sheet.png"))
    print(f"summary: {os.path.join(args.out, 'summary.json')}; sheet: {os.path.join(args.out, 'sheet.png')}")


if __name__ == "__main__":
    main()
