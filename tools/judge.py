#!/usr/bin/env python3
"""The independent judges of generated images (trained on the dataset's *training* split only,
never used as a training loss for the generator):

- StyleJudge: a small CNN that tells the 15 styles apart. Its held-out accuracy on real images
  is the ceiling of every "judged the requested style" figure.
- ContentEmbedder: a CNN trained contrastively so that two drawings of the same content in
  different styles land close together (InfoNCE over pairs of styles of one name). The content
  score of an image is retrieval: among the target style's held-out drawings, is the nearest one
  (cosine) the drawing of the same content? Chance is 1 / (number of candidates). Pixel
  distances fail here because content is the same in meaning, not geometry (DATA.md); a
  feature space trained to ignore style but keep content is what the question asks.

  python3 tools/judge.py train --data /var/tmp/sd/data --out /var/tmp/sd/judge [--steps N --content-steps M]
  python3 tools/judge.py report --data /var/tmp/sd/data --out /var/tmp/sd/judge
"""
import argparse
import json
import math
import os
import random
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from stylediff_model import pixels_to_unit


def block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Backbone(nn.Module):
    """64x64 RGB -> 256 features (average and max pooled)."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(block(3, 32), block(32, 32), nn.MaxPool2d(2),
                                 block(32, 64), block(64, 64), nn.MaxPool2d(2),
                                 block(64, 128), nn.MaxPool2d(2), block(128, 128))

    def forward(self, x):
        h = self.net(x)
        return torch.cat([h.mean((2, 3)), h.amax((2, 3))], 1)


class StyleJudge(nn.Module):
    def __init__(self, styles):
        super().__init__()
        self.styles = list(styles)
        self.backbone = Backbone()
        self.head = nn.Linear(256, len(self.styles))

    def forward(self, x):
        return self.head(self.backbone(x))


class ContentEmbedder(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = Backbone()
        self.head = nn.Sequential(nn.Linear(256, 256), nn.ReLU(inplace=True), nn.Linear(256, 128))

    def forward(self, x):
        return F.normalize(self.head(self.backbone(x)), dim=1)


def load_images(paths):
    return torch.from_numpy(np.stack([np.asarray(Image.open(p).convert("RGB").resize((64, 64), Image.BICUBIC))
                                      for p in paths])).permute(0, 3, 1, 2).contiguous()


def load_split(data, split):
    recs = [json.loads(l) for l in open(os.path.join(data, "manifest.jsonl"))]
    recs = [r for r in recs if r["split"] == split]
    return recs, load_images([os.path.join(data, r["file"]) for r in recs])


def cosine_lr(opt, peak, progress):
    """Cosine decay over the time budget (progress in [0, 1]) after a short warm-up."""
    lr = peak * min(1.0, progress / 0.03) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    for g in opt.param_groups:
        g["lr"] = lr


def budget(minutes, steps):
    """Progress in [0, 1] of a run bounded by `steps` when given (reproducible), else by wall time."""
    start = time.time()
    if steps:
        return lambda step: step / steps
    return lambda step: (time.time() - start) / (minutes * 60)


def train_judge(data, out, minutes, seed, steps=None):
    torch.manual_seed(seed); random.seed(seed)
    recs, x = load_split(data, "train")
    styles = sorted({r["style"] for r in recs})
    y = torch.tensor([styles.index(r["style"]) for r in recs])
    model = StyleJudge(styles)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    progress, step = budget(minutes, steps), 0
    model.train()
    while progress(step) < 1:
        idx = torch.randint(0, len(x), (64,))
        xb = pixels_to_unit(x[idx])
        if random.random() < 0.5:
            xb = xb.flip(3)
        loss = F.cross_entropy(model(xb), y[idx], label_smoothing=0.05)
        cosine_lr(opt, 2e-3, progress(step))
        opt.zero_grad(); loss.backward(); opt.step()
        step += 1
        if step % 200 == 0:
            print(f"judge step {step} loss {loss.item():.3f}", flush=True)
    torch.save({"state": model.state_dict(), "styles": styles, "steps": step}, os.path.join(out, "style_judge.pt"))


def train_content(data, out, minutes, seed, steps=None):
    torch.manual_seed(seed); random.seed(seed)
    recs, x = load_split(data, "train")
    by_name = {}
    for i, r in enumerate(recs):
        by_name.setdefault(r["content"], []).append(i)
    names = [n for n, v in by_name.items() if len(v) >= 2]
    model = ContentEmbedder()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    progress, step = budget(minutes, steps), 0
    model.train()
    while progress(step) < 1:
        batch = random.sample(names, 64)
        a, b = zip(*[random.sample(by_name[n], 2) for n in batch])
        za, zb = model(pixels_to_unit(x[list(a)])), model(pixels_to_unit(x[list(b)]))
        logits = za @ zb.t() / 0.1
        target = torch.arange(len(batch))
        loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2
        cosine_lr(opt, 1e-3, progress(step))
        opt.zero_grad(); loss.backward(); opt.step()
        step += 1
        if step % 100 == 0:
            print(f"content step {step} loss {loss.item():.3f}", flush=True)
    torch.save({"state": model.state_dict(), "steps": step}, os.path.join(out, "content_embedder.pt"))


def load_judges(out):
    j = torch.load(os.path.join(out, "style_judge.pt"), weights_only=False)
    judge = StyleJudge(j["styles"]); judge.load_state_dict(j["state"]); judge.eval()
    c = torch.load(os.path.join(out, "content_embedder.pt"), weights_only=False)
    content = ContentEmbedder(); content.load_state_dict(c["state"]); content.eval()
    return judge, content


@torch.no_grad()
def predict_styles(judge, images, batch=256):
    return torch.cat([judge(pixels_to_unit(images[i:i + batch])).argmax(1) for i in range(0, len(images), batch)])


@torch.no_grad()
def embed(content, images, batch=256):
    return torch.cat([content(pixels_to_unit(images[i:i + batch])) for i in range(0, len(images), batch)])


def report(data, out):
    judge, content = load_judges(out)
    recs, x = load_split(data, "heldout")
    pred = predict_styles(judge, x)
    styles = judge.styles
    truth = torch.tensor([styles.index(r["style"]) for r in recs])
    print(f"style judge on {len(recs)} held-out real images: top-1 {100 * (pred == truth).float().mean():.1f}%")
    confusion = torch.zeros(len(styles), len(styles), dtype=torch.long)
    for t, p in zip(truth, pred):
        confusion[t, p] += 1
    for i, s in enumerate(styles):
        row = confusion[i]
        worst = [(styles[j], int(row[j])) for j in row.argsort(descending=True).tolist() if j != i and row[j] > 0][:2]
        print(f"  {s:11s} {100 * row[i] / max(1, row.sum()):5.1f}%  (n={int(row.sum())})  confused with {worst}")
    return confusion


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["train", "report"])
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=15, help="style judge training time")
    ap.add_argument("--content-minutes", type=float, default=10, help="content embedder training time")
    ap.add_argument("--steps", type=int, help="style judge steps (reproducible; overrides --minutes)")
    ap.add_argument("--content-steps", type=int, help="content embedder steps (overrides --content-minutes)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    if args.command == "train":
        train_judge(args.data, args.out, args.minutes, args.seed, args.steps)
        train_content(args.data, args.out, args.content_minutes, args.seed, args.content_steps)
    report(args.data, args.out)


if __name__ == "__main__":
    main()
