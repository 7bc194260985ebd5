#!/usr/bin/env python3
"""Measures a model in the default layout on held-out content names, generating with the Swift
CLI (`stylediff batch`) and judging with tools/evaluate.py:

  text   "<content>, <style> style", 20 DDIM steps: judged the requested style?
  image  "<content>" + a reference drawing of *another* content in the style: judged the
         reference's style?
  img2img  a held-out drawing converted into another style at --strength: judged the target
         style, and does it still show its content (content score vs chance)?

  python3 tools/eval_model.py --model Weights/default --data /var/tmp/sd/data \
      --judges /var/tmp/sd/judge --out /var/tmp/sd/eval --per-style 3

Writes OUT/summary.json (the figures per task) and OUT/sheet.png: one row per style with a real
held-out drawing of it, then the text, image-style and img2img outputs (img2img after its source).
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def strip_style(prompt):
    return prompt.rsplit(",", 1)[0] if prompt.endswith(" style") else prompt


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--judges", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--per-style", type=int, default=3)
    ap.add_argument("--strength", type=float, default=0.6)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--scheduler", help="sampler for every image (default: the model's, DDIM for the default model); "
                                        "lcm runs the folder's unet_lcm/")
    ap.add_argument("--decoder", choices=["full", "tiny"],
                    help="decoder for every image (default: the VAE's); tiny runs the folder's vae_tiny/")
    ap.add_argument("--stylediff", default=os.path.join(HERE, "..", ".build", "release", "stylediff"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--guidance", type=float, default=5.0)
    ap.add_argument("--style-strength", type=float, default=1.0,
                    help="style attention scale (image task, img2img with a reference, text task with a style preset)")
    ap.add_argument("--image-style-strength", type=float,
                    help="style attention scale of the image task (default: --style-strength)")
    ap.add_argument("--image-style-snap", type=float, default=0.0,
                    help="image task: snap the reference to the model's style presets at this temperature (0: off)")
    ap.add_argument("--no-style-preset", action="store_true",
                    help="text task: the text encoder alone carries the style (no stored style embedding)")
    ap.add_argument("--threads", type=int, help="threads for stylediff (default: all cores)")
    ap.add_argument("--tasks", default="text,image,img2img")
    ap.add_argument("--img2img-reference", action="store_true",
                    help="img2img also gets a reference drawing of the target style (text and image style)")
    args = ap.parse_args()
    if args.image_style_strength is None:
        args.image_style_strength = args.style_strength
    rng = random.Random(args.seed)
    recs = [json.loads(l) for l in open(os.path.join(args.data, "manifest.jsonl"))]
    held = [r for r in recs if r["split"] == "heldout"]
    by_style, by_content = {}, {}
    for r in held:
        by_style.setdefault(r["style"], []).append(r)
        by_content.setdefault(r["content"], {})[r["style"]] = r
    styles = sorted(by_style)
    tasks = {"text": [], "image": [], "img2img": []}
    # Noise seeds differ per pick set (--seed 0 keeps 1001..., as before this option set them apart).
    seed = 1000 + 100_000 * args.seed
    for s in styles:
        picks = rng.sample(by_style[s], min(args.per_style, len(by_style[s])))
        for r in picks:
            content_text = strip_style(r["prompt"])
            seed += 1
            tasks["text"].append((dict(prompt=content_text, style=s, seed=seed, steps=args.steps, guidance=args.guidance,
                                       style_strength=args.style_strength, style_preset=not args.no_style_preset),
                                  dict(style=s, content=r["content"])))
            ref = rng.choice([x for x in by_style[s] if x["content"] != r["content"]])
            tasks["image"].append((dict(prompt=content_text, style_images=[os.path.join(args.data, ref["file"]) + ":1"],
                                        style_strength=args.image_style_strength, seed=seed, steps=args.steps,
                                        guidance=args.guidance, **({"style_snap": args.image_style_snap} if args.image_style_snap else {})),
                                   dict(style=s, content=r["content"])))
            sources = [x for x in by_content[r["content"]].values() if x["style"] != s]
            if sources:
                src = rng.choice(sources)
                line = dict(prompt=content_text, style=s, init_image=os.path.join(args.data, src["file"]),
                            strength=args.strength, seed=seed, steps=args.steps, guidance=args.guidance,
                            style_strength=args.style_strength, style_preset=not args.no_style_preset)
                if args.img2img_reference:  # the target style also from a reference image (another content)
                    line.update(style_images=[os.path.join(args.data, ref["file"]) + ":1"])
                tasks["img2img"].append((line,
                                         dict(style=s, content=r["content"], source_style=src["style"],
                                              source=src["file"])))
    summary = dict(model=os.path.abspath(args.model), per_style=args.per_style, steps=args.steps, seed=args.seed,
                   scheduler=args.scheduler, decoder=args.decoder,
                   guidance=args.guidance, strength=args.strength, style_strength=args.style_strength,
                   image_style_strength=args.image_style_strength, image_style_snap=args.image_style_snap,
                   img2img_reference=args.img2img_reference, style_preset=not args.no_style_preset)
    wanted = args.tasks.split(",")
    for task, items in tasks.items():
        if task not in wanted:
            continue
        folder = os.path.join(args.out, task)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "prompts.jsonl"), "w") as f, open(os.path.join(folder, "truth.jsonl"), "w") as m:
            for i, (line, truth) in enumerate(items):
                name = f"{i:03d}-{truth['style']}-{truth['content']}"[:80].replace("/", "_")
                f.write(json.dumps(dict(line, name=name)) + "\n")
                m.write(json.dumps(dict(truth, file=name + ".png")) + "\n")
        fields = {k: v for k, v in (("scheduler", args.scheduler), ("decoder", args.decoder)) if v}
        if fields:
            with open(os.path.join(folder, "prompts.jsonl")) as f:
                lines = [dict(json.loads(l), **fields) for l in f]
            with open(os.path.join(folder, "prompts.jsonl"), "w") as f:
                f.writelines(json.dumps(l) + "\n" for l in lines)
        command = [args.stylediff, "batch", os.path.join(folder, "prompts.jsonl"), "--out-dir", folder, "--model", args.model]
        if args.threads:
            command += ["--threads", str(args.threads)]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        print(f"== {task}: {len(items)} images", flush=True)
        report = subprocess.run([sys.executable, os.path.join(HERE, "evaluate.py"), "run", "--images", folder,
                                 "--manifest", os.path.join(folder, "truth.jsonl"), "--data", args.data,
                                 "--judges", args.judges], check=True, capture_output=True, text=True).stdout
        print(report, end="", flush=True)
        summary[task] = parse_report(report)
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    write_sheet(args, tasks, wanted, by_style, os.path.join(args.out, "sheet.png"))
    print(f"summary: {os.path.join(args.out, 'summary.json')}; contact sheet: {os.path.join(args.out, 'sheet.png')}")


def parse_report(report):
    """The figures evaluate.py prints: style accuracy (%), content top-1 / top-5 (%)."""
    out = {}
    m = re.search(r"(\d+) images; style accuracy ([\d.]+)%", report)
    if m:
        out.update(images=int(m.group(1)), style_accuracy=float(m.group(2)))
    m = re.search(r"top-1 ([\d.]+)%, top-5 ([\d.]+)% \(chance top-1 ([\d.]+)%", report)
    if m:
        out.update(content_top1=float(m.group(1)), content_top5=float(m.group(2)), content_chance_top1=float(m.group(3)))
    return out


def write_sheet(args, tasks, wanted, by_style, path):
    """Rows: styles. Columns: a real held-out drawing in the style, then per task its outputs
    for that style (img2img: source, result). Labels use PIL's built-in font."""
    from PIL import Image, ImageDraw
    cell, label_w, head_h = 64, 84, 14
    styles = sorted(by_style)
    columns = [("real", None)]
    for task in ("text", "image", "img2img"):
        if task in wanted:
            columns += [(task, k) for k in range(args.per_style)]
    width = label_w + cell * (len(columns) + (args.per_style if "img2img" in wanted else 0))
    sheet = Image.new("RGB", (width, head_h + cell * len(styles)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for row, style in enumerate(styles):
        y = head_h + row * cell
        draw.text((4, y + 26), style, fill=(0, 0, 0))
        x = label_w
        real = by_style[style][0]
        sheet.paste(Image.open(os.path.join(args.data, real["file"])).convert("RGB"), (x, y))
        x += cell
        for task in ("text", "image", "img2img"):
            if task not in wanted:
                continue
            items = [(i, line, truth) for i, (line, truth) in enumerate(tasks[task]) if truth["style"] == style]
            for k in range(args.per_style):
                if row == 0 and k == 0:
                    draw.text((x + 2, 1), task, fill=(0, 0, 0))
                if k < len(items):
                    i, line, truth = items[k]
                    name = f"{i:03d}-{truth['style']}-{truth['content']}"[:80].replace("/", "_") + ".png"
                    if task == "img2img":
                        sheet.paste(Image.open(os.path.join(args.data, truth["source"])).convert("RGB"), (x, y))
                        x += cell
                    sheet.paste(Image.open(os.path.join(args.out, task, name)).convert("RGB"), (x, y))
                    x += cell
                else:
                    x += cell * (2 if task == "img2img" else 1)
    sheet.save(path)

if __name__ == "__main__":
    main()
