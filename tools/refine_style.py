#!/usr/bin/env python3
"""Stage 3 of the default model: refine the style encoder of an export so that one reference
drawing of a style maps close to that style's preset (its mean embedding over the training
drawings), with the UNet, IP-Adapter, text encoder and image projection frozen.

  python3 tools/refine_style.py --model EXPORT --work /var/tmp/sd/stage2 --out DIR --threads 1   # ~45 min

Why: the jointly trained encoder memorises its training drawings pixel for pixel, so a drawing
it has not seen lands far from its style's cluster, while the UNet renders a style well from its
preset. By default a new trunk (a stride-1 first convolution: --channels / --strides) is
trained from scratch in front of the export's frozen image projection: each training drawing
(mirrored at random) is regressed onto its style's preset, plus --ce-weight x a cross-entropy
over negative squared distances to all presets. One content in ten of the training split is
kept aside to report how a new drawing fares: the share whose embedding is nearest its own
style's preset, and its distance to that preset over the mean distance between presets. The
held-out split is only reported (diagnostic), never trained on. The output is a copy of
the export with the refined style_encoder/model.safetensors; the presets stay those of the input
(they are what the UNet was trained around and what the refinement aims at).
"""
import argparse
import json
import math
import os
import random
import shutil
import time
import zlib

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from stop_flag import StopFlag
from stylediff_model import StyleEncoder, exported_style_config, exported_style_encoder, pixels_to_unit
from train_model import shift_images


def augmented(x, n, flip):
    """x [B, 3, H, W] shifted by up to n pixels (train_model.shift_images) and, if flip, mirrored
    left-right with probability 1/2."""
    x = shift_images(x, n)
    if flip:
        mirror = (torch.rand(len(x)) < 0.5).to(x.device)
        x = torch.where(mirror[:, None, None, None], x.flip(-1), x)
    return x


@torch.no_grad()
def measure(encoder, images, labels, presets):
    """(nearest-preset accuracy, mean distance to own preset / mean distance between presets)."""
    encoder.eval()
    dev = presets.device
    e = torch.cat([encoder.embed(pixels_to_unit(images[k:k + 256].to(dev))) for k in range(0, len(images), 256)])
    d = torch.cdist(e, presets)
    between = torch.cdist(presets, presets).sum() / (len(presets) * (len(presets) - 1))
    encoder.train()
    labels = labels.to(dev)
    return (d.argmin(1) == labels).float().mean().item(), (d.gather(1, labels[:, None]).mean() / between).item()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="an export in the default layout (e.g. Weights/default)")
    ap.add_argument("--work", required=True, help="the stage-2 work folder (its cache.pt holds the drawings)")
    ap.add_argument("--out", required=True, help="folder for the refined copy of --model (must not exist)")
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--shift", type=int, default=0,
                    help="move drawings by up to this many pixels (off: where an icon sits in its canvas is part of its style)")
    ap.add_argument("--no-flip", action="store_true")
    ap.add_argument("--ce-weight", type=float, default=1.0,
                    help="weight of a cross-entropy over negative squared distances to all presets")
    ap.add_argument("--channels", default="32,64,128,256,256",
                    help="comma-separated conv widths of the new encoder trunk trained from scratch ('' : keep the export's)")
    ap.add_argument("--strides", default="1,2,2,2,2", help="comma-separated conv strides of that trunk")
    ap.add_argument("--scratch", action="store_true", help="with --channels '': retrain the export's trunk from scratch "
                    "(without it, fine-tune the export's trunk)")
    ap.add_argument("--tau", type=float, default=0.1, help="temperature of that cross-entropy (in mean squared preset distances)")
    ap.add_argument("--all", action="store_true", help="train on the whole training split (no contents kept aside)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="torch device (e.g. cuda; the CPU recipe is the default)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    dev = torch.device(args.device)
    torch.set_num_threads(args.threads)
    random.seed(args.seed); torch.manual_seed(args.seed)
    if os.path.exists(args.out):
        raise SystemExit(f"{args.out} exists; refine into a new folder")

    cache = torch.load(os.path.join(args.work, "cache.pt"), weights_only=False)
    recs, images = cache["records"], cache["images"].to(dev)
    preset_file = load_file(os.path.join(args.model, "style_encoder", "presets.safetensors"))
    styles = sorted(preset_file)
    presets = torch.stack([preset_file[s] for s in styles]).to(dev)  # [S, D]
    aside = lambda r: not args.all and zlib.crc32(r["content"].encode()) % 10 == 0
    fit = [i for i, r in enumerate(recs) if r["split"] == "train" and not aside(r)]
    val = [i for i, r in enumerate(recs) if r["split"] == "train" and aside(r)]
    heldout = [i for i, r in enumerate(recs) if r["split"] == "heldout"]
    label = torch.tensor([styles.index(r["style"]) for r in recs], device=dev)
    scale = torch.cdist(presets, presets).pow(2).sum() / (len(styles) * (len(styles) - 1))
    print(f"{len(fit)} drawings to fit, {len(val)} kept aside ({len(styles)} styles)", flush=True)

    encoder = exported_style_encoder(args.model).train()
    if args.channels or args.scratch:  # a fresh trunk in front of the export's image projection
        config = exported_style_config(args.model)
        if args.channels:
            config["channels"] = [int(c) for c in args.channels.split(",")]
            config["strides"] = [int(c) for c in args.strides.split(",")] if args.strides else [2] * len(config["channels"])
        fresh = StyleEncoder(**config).train()
        fresh.image_proj.load_state_dict(encoder.image_proj.state_dict())
        encoder = fresh
        print(f"new trunk: {config}, {sum(p.numel() for p in encoder.parameters()) / 1e6:.3f} M parameters", flush=True)
    encoder.to(dev)
    encoder.image_proj.requires_grad_(False)  # its tokens are what the frozen UNet reads
    params = [p for p in encoder.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)

    def report(step):
        parts = [f"step {step}"]
        if val:
            acc, ratio = measure(encoder, images[val], label[val], presets)
            parts.append(f"aside: nearest-preset {acc:.3f}, distance ratio {ratio:.3f}")
        acc, ratio = measure(encoder, images[fit[::8]], label[fit[::8]], presets)
        parts.append(f"fit (1 in 8): {acc:.3f}, {ratio:.3f}")
        acc, ratio = measure(encoder, images[heldout], label[heldout], presets)
        parts.append(f"held out (diagnostic only): {acc:.3f}, {ratio:.3f}")
        print(", ".join(parts), flush=True)

    report(0)
    stop, start, losses = StopFlag(), time.time(), []
    for step in range(1, args.steps + 1):
        if stop.requested:
            print("stopped early", flush=True)
            break
        idx = random.sample(fit, args.batch)
        x = augmented(pixels_to_unit(images[idx]), args.shift, not args.no_flip)
        e = encoder.embed(x)  # [B, D]
        y = label[idx]
        loss = (e - presets[y]).pow(2).sum(1).mean() / scale
        if args.ce_weight > 0:
            loss = loss + args.ce_weight * F.cross_entropy(-torch.cdist(e, presets).pow(2) / (scale * args.tau), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        for g in opt.param_groups:
            g["lr"] = args.lr * min(1.0, step / 100) * 0.5 * (1 + math.cos(math.pi * step / args.steps))
        opt.step()
        losses.append(loss.item())
        if step % 250 == 0 or step == args.steps:
            print(f"loss {sum(losses[-250:]) / len(losses[-250:]):.4f} ({time.time() - start:.0f} s)", flush=True)
            report(step)

    shutil.copytree(args.model, args.out)
    if args.channels:
        with open(os.path.join(args.out, "style_encoder", "config.json"), "w") as f:
            json.dump(dict(_class_name="StyleEncoder", **config), f, indent=2)
    state = {k: v.detach().cpu().half().contiguous() for k, v in encoder.state_dict().items() if not k.startswith("image_proj.")}
    save_file(state, os.path.join(args.out, "style_encoder", "model.safetensors"))
    with open(os.path.join(args.out, "style_encoder", "refined.json"), "w") as f:
        json.dump(dict(vars(args), final_loss=sum(losses[-100:]) / max(1, len(losses[-100:]))), f, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
