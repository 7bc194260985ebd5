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
"""
import argparse
import json
import os
import random
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
    ap.add_argument("--stylediff", default=os.path.join(HERE, "..", ".build", "release", "stylediff"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    recs = [json.loads(l) for l in open(os.path.join(args.data, "manifest.jsonl"))]
    held = [r for r in recs if r["split"] == "heldout"]
    by_style, by_content = {}, {}
    for r in held:
        by_style.setdefault(r["style"], []).append(r)
        by_content.setdefault(r["content"], {})[r["style"]] = r
    styles = sorted(by_style)
    tasks = {"text": [], "image": [], "img2img": []}
    seed = 1000
    for s in styles:
        picks = rng.sample(by_style[s], min(args.per_style, len(by_style[s])))
        for r in picks:
            content_text = strip_style(r["prompt"])
            seed += 1
            tasks["text"].append((dict(prompt=content_text, style=s, seed=seed, steps=args.steps),
                                  dict(style=s, content=r["content"])))
            ref = rng.choice([x for x in by_style[s] if x["content"] != r["content"]])
            tasks["image"].append((dict(prompt=content_text, style_images=[os.path.join(args.data, ref["file"]) + ":1"],
                                        seed=seed, steps=args.steps), dict(style=s, content=r["content"])))
            sources = [x for x in by_content[r["content"]].values() if x["style"] != s]
            if sources:
                src = rng.choice(sources)
                tasks["img2img"].append((dict(prompt=content_text, style=s, init_image=os.path.join(args.data, src["file"]),
                                              strength=args.strength, seed=seed, steps=args.steps),
                                         dict(style=s, content=r["content"], source_style=src["style"])))
    for task, items in tasks.items():
        folder = os.path.join(args.out, task)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "prompts.jsonl"), "w") as f, open(os.path.join(folder, "manifest.jsonl"), "w") as m:
            for i, (line, truth) in enumerate(items):
                name = f"{i:03d}-{truth['style']}-{truth['content']}"[:80].replace("/", "_")
                f.write(json.dumps(dict(line, name=name)) + "\n")
                m.write(json.dumps(dict(truth, file=name + ".png")) + "\n")
        subprocess.run([args.stylediff, "batch", os.path.join(folder, "prompts.jsonl"), "--out-dir", folder,
                        "--model", args.model], check=True, stdout=subprocess.DEVNULL)
        print(f"== {task}: {len(items)} images", flush=True)
        subprocess.run([sys.executable, os.path.join(HERE, "evaluate.py"), "run", "--images", folder,
                        "--manifest", os.path.join(folder, "manifest.jsonl"), "--data", args.data,
                        "--judges", args.judges, "--sheet", os.path.join(args.out, f"sheet-{task}.png")], check=True)


if __name__ == "__main__":
    main()
