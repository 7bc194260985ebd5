#!/usr/bin/env python3
"""Stage 1 of the default model: trains the 64x64 <-> 16x16x4 AutoencoderKL on the style dataset.

Runs for --minutes, checkpoints (model, EMA, optimizer, step, RNG) to --ckpt every
--save-minutes, and resumes from that checkpoint when it exists (or from --init, a diffusers
folder such as the shipped Weights/default/vae). Logs held-out PSNR of the EMA weights.
Export: --export DIR writes the EMA weights with save_pretrained (config.json + safetensors).

  python3 tools/train_vae.py --data /var/tmp/sd/data --ckpt /var/tmp/sd/ckpt/vae.pt \
      --minutes 150 --export /var/tmp/sd/export/vae
"""
import argparse
import copy
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL
from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution
from PIL import Image

from stop_flag import StopFlag
from stylediff_model import pixels_to_unit

# The architecture: three blocks (two downsamplings), no mid attention, lean channels so that
# CPU training gets many steps per hour (../shared/TRAINING.md).
VAE_CONFIG = dict(
    in_channels=3, out_channels=3, latent_channels=4, sample_size=64,
    down_block_types=["DownEncoderBlock2D"] * 3, up_block_types=["UpDecoderBlock2D"] * 3,
    block_out_channels=[32, 64, 128], layers_per_block=1, norm_num_groups=32,
    act_fn="silu", mid_block_add_attention=False, scaling_factor=1.0,
)


def load_split(data, split):
    recs = [json.loads(l) for l in open(os.path.join(data, "manifest.jsonl"))]
    recs = [r for r in recs if r["split"] == split]
    arr = np.stack([np.asarray(Image.open(os.path.join(data, r["file"])).convert("RGB"))
                    for r in recs])
    return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()  # uint8 [N, 3, 64, 64]


@torch.no_grad()
def psnr(model, images, batch=64):
    total, n = 0.0, 0
    dev = next(model.parameters()).device
    for i in range(0, len(images), batch):
        x = pixels_to_unit(images[i:i + batch].to(dev))
        y = model.decode(model.encode(x).latent_dist.mode()).sample.clamp(-1, 1)
        mse = ((y - x) / 2).pow(2).flatten(1).mean(1)
        total += (10 * torch.log10(1 / mse.clamp_min(1e-10))).sum().item()
        n += len(x)
    return total / n


@torch.no_grad()
def latent_stats(model, images, batch=64):
    dev = next(model.parameters()).device
    zs = [model.encode(pixels_to_unit(images[i:i + batch].to(dev))).latent_dist.mode()
          for i in range(0, min(len(images), 2048), batch)]
    z = torch.cat(zs)
    return z.std().item(), z.std(dim=(0, 2, 3)).tolist(), z.mean().item()


@torch.no_grad()
def encode_cached(model, images, batch=256):
    """Posterior parameters (mean and logvar, [N, 8, 16, 16]) of every image and of its mirror image."""
    out = []
    dev = next(model.parameters()).device
    for flip in (False, True):
        parts = []
        for i in range(0, len(images), batch):
            x = pixels_to_unit(images[i:i + batch].to(dev))
            parts.append(model.quant_conv(model.encoder(x.flip(3) if flip else x)))
        out.append(torch.cat(parts))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--ckpt", required=True, help="checkpoint file (outside git)")
    ap.add_argument("--init", help="diffusers VAE folder to start from when no checkpoint")
    ap.add_argument("--minutes", type=float, default=150)
    ap.add_argument("--save-minutes", type=float, default=10)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--kl", type=float, default=1e-6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--export", help="write the EMA model here (diffusers layout) at the end")
    ap.add_argument("--export-only", action="store_true", help="export the checkpoint without training")
    ap.add_argument("--decoder-only", action="store_true",
                    help="freeze the encoder (the latents stage 2 trained on stay valid) and train the decoder "
                         "on cached posteriors; keeps scaling_factor")
    ap.add_argument("--decode-mean", action="store_true",
                    help="decoder-only: decode the posterior mean (what stage 2 trains on and generates) instead "
                         "of a sample, so the decoder may use channels whose posterior noise would hide them")
    ap.add_argument("--sampled-channels", type=int, nargs="*", default=[],
                    help="with --decode-mean: latent channels still decoded from a sample (e.g. 3, the channel "
                         "whose posterior noise exceeds its signal and which stage 2 generates imprecisely)")
    ap.add_argument("--anneal", action="store_true",
                    help="instead of the nominal 60k-step cosine, a cosine over this run's --minutes down to 10%%")
    ap.add_argument("--warmup", type=int, default=0,
                    help="raise the learning rate linearly over this run's first N steps (a fresh optimizer's first "
                         "steps otherwise knock a trained decoder back by 1-2 dB)")
    ap.add_argument("--device", default="cpu", help="torch device (e.g. cuda; the CPU recipe is the default)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    dev = torch.device(args.device)

    train, held = load_split(args.data, "train").to(dev), load_split(args.data, "heldout").to(dev)
    print(f"train {len(train)} heldout {len(held)}", flush=True)
    model = AutoencoderKL(**VAE_CONFIG)
    ema = copy.deepcopy(model).requires_grad_(False)
    step, elapsed, state = 0, 0.0, None
    if os.path.exists(args.ckpt):
        state = torch.load(args.ckpt, weights_only=False, map_location="cpu")
        model.load_state_dict(state["model"]); ema.load_state_dict(state["ema"])
        step = state["step"]; elapsed = state["elapsed"]
        torch.set_rng_state(state["rng"])
        print(f"resumed at step {step} ({elapsed / 60:.1f} min trained)", flush=True)
    elif args.init:
        model = AutoencoderKL.from_pretrained(args.init, torch_dtype=torch.float32)
        ema = copy.deepcopy(model).requires_grad_(False)
        print(f"initialised from {args.init}", flush=True)
    model.to(dev); ema.to(dev)
    print(f"parameters {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M", flush=True)
    if args.decoder_only:
        # The frozen encoder is the EMA's (the exported one that stage 2 encoded with).
        model.encoder.load_state_dict(ema.encoder.state_dict())
        model.quant_conv.load_state_dict(ema.quant_conv.state_dict())
        model.encoder.requires_grad_(False); model.quant_conv.requires_grad_(False)
    trained = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trained, lr=args.lr, weight_decay=0.0)
    if state is not None and bool(state.get("decoder_only")) == args.decoder_only:
        opt.load_state_dict(state["opt"])  # switching between full and decoder-only starts a fresh optimizer
    if args.decoder_only and not args.export_only:
        posteriors = encode_cached(ema, train)  # [N, 8, 16, 16] as is and mirrored
        print(f"decoder only: {sum(p.numel() for p in trained) / 1e6:.2f} M trained, "
              f"{len(train)} posteriors cached", flush=True)

    def save():
        os.makedirs(os.path.dirname(os.path.abspath(args.ckpt)), exist_ok=True)
        tmp = args.ckpt + ".tmp"
        torch.save(dict(model=model.state_dict(), ema=ema.state_dict(), opt=opt.state_dict(),
                        step=step, elapsed=elapsed, rng=torch.get_rng_state(), decoder_only=args.decoder_only,
                        config=VAE_CONFIG, args=vars(args)), tmp)
        os.replace(tmp, args.ckpt)

    stop = StopFlag()  # SIGTERM / SIGINT: finish the step, save, exit
    start, last_save, last_log = time.time(), time.time(), time.time()
    first_step = step
    session_budget = 0 if args.export_only else args.minutes * 60
    model.train()
    while not stop.requested and time.time() - start < session_budget:
        idx = torch.randint(0, len(train), (args.batch,)).to(dev)
        x = pixels_to_unit(train[idx])
        flip = bool(torch.rand(()) < 0.5)
        if flip:
            x = x.flip(3)
        if args.decoder_only:
            post = DiagonalGaussianDistribution(posteriors[int(flip)][idx])
        else:
            post = model.encode(x).latent_dist
        z = post.sample()
        if args.decode_mean and args.decoder_only:
            keep = torch.zeros(1, z.shape[1], 1, 1, device=dev)
            keep[:, args.sampled_channels] = 1
            z = post.mode() * (1 - keep) + z * keep
        y = model.decode(z).sample
        rec = F.l1_loss(y, x) + 0.5 * F.mse_loss(y, x)
        loss = rec if args.decoder_only else rec + args.kl * post.kl().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        # Cosine decay over a nominal 60k steps (with --anneal: over this run's minutes), floor 10%.
        progress = min(1.0, (time.time() - start) / session_budget) if args.anneal else min(step, 60000) / 60000
        warm = min(1.0, (step - first_step + 1) / args.warmup) if args.warmup > 0 else 1.0
        for g in opt.param_groups:
            g["lr"] = args.lr * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
        opt.step()
        decay = min(0.999, (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1 - decay)
        step += 1
        now = time.time()
        if now - last_log > 300:
            elapsed += now - last_log
            last_log = now
            print(f"step {step} loss {loss.item():.4f} rec {rec.item():.4f} "
                  f"heldout PSNR (EMA) {psnr(ema, held[:512]):.2f} dB  "
                  f"trained {elapsed / 60:.1f} min", flush=True)
        if now - last_save > args.save_minutes * 60:
            save(); last_save = now
    if not args.export_only:
        elapsed += time.time() - last_log
        save()
    p = psnr(ema, held)
    std, per_channel, mean = latent_stats(ema, train)
    print(f"final step {step} heldout PSNR {p:.2f} dB; latent std {std:.3f} "
          f"per channel {[round(s, 3) for s in per_channel]} mean {mean:.3f}; "
          f"scaling_factor {1 / std:.4f}", flush=True)
    if args.export:
        ema.cpu()
        if not args.decoder_only:  # a frozen encoder keeps the scaling stage 2 was trained with
            ema.register_to_config(scaling_factor=round(1 / std, 5))
        ema.save_pretrained(args.export)
        with open(os.path.join(args.export, "training.json"), "w") as f:
            json.dump(dict(step=step, minutes=elapsed / 60, heldout_psnr_db=p,
                           latent_std=std, latent_std_per_channel=per_channel,
                           args=vars(args)), f, indent=1)


if __name__ == "__main__":
    main()
