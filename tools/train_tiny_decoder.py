#!/usr/bin/env python3
"""A tiny decoder for the default model's latents (diffusers `AutoencoderTiny`, TAESD's design):
plain 3x3 convolutions and ReLUs, about a quarter of the shipped VAE decoder's FLOPs, for
few-step sampling where the decode is a third of the time.

Trains only the decoder, on the stage-2 latent cache (`train_model.py prepare`: the shipped VAE
encoder's means, in diffusion space, i.e. times its scaling factor) against the real drawings
(L1 plus MSE in [-1, 1]); held-out PSNR of the EMA weights is logged beside the shipped VAE
decoder's on the same latents. Checkpoints (model, EMA, optimizer, step, RNG) go to WORK/tiny.pt
every --save-minutes and a run resumes from there. Export writes OUT/vae_tiny/ (config.json +
diffusion_pytorch_model.safetensors, fp16, decoder weights only: diffusers names
`decoder.layers.*`, scaling_factor 1.0 so that it decodes the diffusion latents as they are,
as TAESD does for Stable Diffusion).

  python3 tools/train_tiny_decoder.py train --cache /var/tmp/sd/stage2/cache.pt --work /var/tmp/sd/tiny --minutes 60 --threads 1
  python3 tools/train_tiny_decoder.py export --work /var/tmp/sd/tiny --out DIR
"""
import argparse
import copy
import os
import time

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, AutoencoderTiny
from safetensors.torch import save_file

from stop_flag import StopFlag
from stylediff_model import pixels_to_unit

# Widths are equal at every level (DecoderTiny's blocks keep their width); two blocks at 16x16
# and 32x32, one at 64x64, where a 3x3 convolution at width 32 costs 75 MFLOP.
TINY_CONFIG = dict(
    in_channels=3, out_channels=3, latent_channels=4, act_fn="relu", upsample_fn="nearest",
    upsampling_scaling_factor=2, encoder_block_out_channels=(32, 32, 32), num_encoder_blocks=(1, 1, 1),
    decoder_block_out_channels=(32, 32, 32), num_decoder_blocks=(2, 2, 1), scaling_factor=1.0,
    latent_magnitude=3, latent_shift=0.5, force_upcast=False,
)


def split(cache, name):
    idx = [i for i, r in enumerate(cache["records"]) if r["split"] == name]
    return cache["latents"][idx], cache["images"][idx]


@torch.no_grad()
def psnr(decode, latents, images, batch=256):
    total = 0.0
    for i in range(0, len(latents), batch):
        y = decode(latents[i:i + batch]).clamp(-1, 1)
        x = pixels_to_unit(images[i:i + batch])
        mse = ((y - x) / 2).pow(2).flatten(1).mean(1)
        total += (10 * torch.log10(1 / mse.clamp_min(1e-10))).sum().item()
    return total / len(latents)


def train(args):
    torch.set_num_threads(args.threads)
    os.makedirs(args.work, exist_ok=True)
    cache = torch.load(args.cache, weights_only=False)
    z_train, x_train = split(cache, "train")
    held = [n for n in ("test", "val", "heldout") if any(r["split"] == n for r in cache["records"])]
    z_test, x_test = split(cache, held[0]) if held else (z_train[:512], x_train[:512])
    z_test, x_test = z_test[:1024], x_test[:1024]
    ckpt = os.path.join(args.work, "tiny.pt")
    torch.manual_seed(args.seed)
    model = AutoencoderTiny(**TINY_CONFIG).decoder
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    step, seconds = 0, 0.0
    if os.path.exists(ckpt):
        s = torch.load(ckpt, weights_only=False)
        model.load_state_dict(s["model"]); ema.load_state_dict(s["ema"]); opt.load_state_dict(s["opt"])
        for g in opt.param_groups:  # --lr holds on a resumed run too (e.g. a lower rate to finish)
            g["lr"] = args.lr
        step, seconds = s["step"], s["seconds"]
        torch.set_rng_state(s["rng"])
        print(f"resumed at step {step} ({seconds / 60:.1f} min trained)")
    else:
        scale = cache["scaling_factor"]
        vae = AutoencoderKL.from_pretrained(args.vae).eval()
        ref = psnr(lambda z: vae.decode(z / scale).sample, z_test, x_test)
        print(f"held-out PSNR of the shipped VAE decoder on these latents: {ref:.2f} dB ({len(z_test)} images, split {held[:1]})")
    stop = StopFlag()
    start, last_save, last_log = time.time(), time.time(), time.time()
    n = len(z_train)
    while not stop.requested and time.time() - start < args.minutes * 60:
        idx = torch.randint(0, n, (args.batch,))
        z, x = z_train[idx], pixels_to_unit(x_train[idx])
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            y = model(z).float()
        loss = F.l1_loss(y, x) + F.mse_loss(y, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        with torch.no_grad():
            d = min(args.ema, (1 + step) / (10 + step))
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.mul_(d).add_(pm, alpha=1 - d)
        if time.time() - last_log > args.log_minutes * 60:
            print(f"step {step} loss {loss.item():.4f} held-out PSNR (EMA) {psnr(ema, z_test, x_test):.2f} dB "
                  f"{(seconds + time.time() - start) / 60:.1f} min", flush=True)
            last_log = time.time()
        if time.time() - last_save > args.save_minutes * 60:
            save(ckpt, model, ema, opt, step, seconds + time.time() - start)
            last_save = time.time()
    save(ckpt, model, ema, opt, step, seconds + time.time() - start)
    print(f"step {step}: held-out PSNR (EMA) {psnr(ema, z_test, x_test):.2f} dB; checkpoint {ckpt}")


def save(path, model, ema, opt, step, seconds):
    tmp = path + ".tmp"
    torch.save(dict(model=model.state_dict(), ema=ema.state_dict(), opt=opt.state_dict(), step=step,
                    seconds=seconds, rng=torch.get_rng_state(), config=TINY_CONFIG), tmp)
    os.replace(tmp, path)


def export(args):
    s = torch.load(os.path.join(args.work, "tiny.pt"), weights_only=False)
    full = AutoencoderTiny(**s["config"])
    full.decoder.load_state_dict(s["ema"])
    out = os.path.join(args.out, "vae_tiny")
    os.makedirs(out, exist_ok=True)
    full.save_config(out)
    weights = {f"decoder.{k}": v.to(torch.float16).contiguous() for k, v in full.decoder.state_dict().items()}
    save_file(weights, os.path.join(out, "diffusion_pytorch_model.safetensors"))
    print(f"exported the tiny decoder of step {s['step']} to {out} (decoder weights only)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["train", "export"])
    ap.add_argument("--cache", help="stage-2 latent cache (train_model.py prepare)")
    ap.add_argument("--vae", default="Weights/default/vae", help="the VAE whose latents these are (reference PSNR)")
    ap.add_argument("--work", required=True)
    ap.add_argument("--out")
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--save-minutes", type=float, default=10)
    ap.add_argument("--log-minutes", type=float, default=5)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bf16", action="store_true", help="bfloat16 autocast for the forward pass (AMX CPUs); fp32 weights and loss")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    train(args) if args.command == "train" else export(args)


if __name__ == "__main__":
    main()
