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

Latents the sampler makes are not the encoder's: `generate` samples the model (tools/sample.py,
the Swift pipeline's algorithm: LCM steps with unet_lcm/ and DDIM steps with guidance) for the
cache's training prompts with their style presets, and stores each final latent with the VAE
decoder's image of it (prompts of held-out names go to a test set); `train --generated FILE`
then draws that share of every batch from it, teaching the tiny decoder the VAE's decoding of
sampled latents (distillation), and logs its PSNR against the VAE on the held-out samples too.

  python3 tools/train_tiny_decoder.py generate --cache ... --model Weights/default --out /var/tmp/sd/tiny/generated.pt --count 3000
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
from stylediff_model import pixels_to_unit, strip_style

# Widths are equal at every level (DecoderTiny's blocks keep their width); two blocks at 16x16
# and 32x32, one at 64x64, where a 3x3 convolution at width 32 costs 75 MFLOP.
TINY_CONFIG = dict(
    in_channels=3, out_channels=3, latent_channels=4, act_fn="relu", upsample_fn="nearest",
    upsampling_scaling_factor=2, encoder_block_out_channels=(32, 32, 32), num_encoder_blocks=(1, 1, 1),
    decoder_block_out_channels=(32, 32, 32), num_decoder_blocks=(2, 2, 1), scaling_factor=1.0,
    latent_magnitude=3, latent_shift=0.5, force_upcast=False,
)


class PatchDiscriminator(torch.nn.Module):
    """A PatchGAN critic for `--adversarial`: [N, 3, 64, 64] in [-1, 1] -> [N, 1, 8, 8] logits
    (three stride-2 4x4 convolutions with group norms and leaky ReLUs, then a 3x3 one), as
    TAESD's decoder was sharpened against a discriminator."""

    def __init__(self, width=32):
        super().__init__()
        layers, c = [], 3
        for i, w in enumerate((width, 2 * width, 4 * width)):
            layers += [torch.nn.Conv2d(c, w, 4, 2, 1)]
            if i:
                layers += [torch.nn.GroupNorm(8, w)]
            layers += [torch.nn.LeakyReLU(0.2)]
            c = w
        layers += [torch.nn.Conv2d(c, 1, 3, 1, 1)]
        self.net = torch.nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class StyleFeatures(torch.nn.Module):
    """`--feature-loss`: the shipped style encoder's convolution features (after each SiLU, unit
    length over channels, as LPIPS does) and its pooled embedding, frozen; the loss is their mean
    squared difference between the decode and its target, so that the decoder keeps what the
    model itself reads as style (the shipped encoder, not the evaluation's judge)."""

    def __init__(self, folder):
        super().__init__()
        from stylediff_model import exported_style_encoder
        self.encoder = exported_style_encoder(folder).requires_grad_(False)

    def forward(self, y, x):
        loss, h, g, count = 0.0, y, x, 0
        for layer in self.encoder.convs:
            h, g = layer(h), layer(g)
            if isinstance(layer, torch.nn.SiLU):
                a = h / (h.pow(2).sum(1, keepdim=True).sqrt() + 1e-6)
                b = g / (g.pow(2).sum(1, keepdim=True).sqrt() + 1e-6)
                loss = loss + (a - b).pow(2).sum(1).mean()
                count += 1
        pooled = lambda f: self.encoder.pool_proj(torch.cat([f.mean((2, 3)), f.amax((2, 3))], 1))  # StyleEncoder.embed's
        return loss / count + F.mse_loss(pooled(h), pooled(g))


def split(cache, name):
    idx = [i for i, r in enumerate(cache["records"]) if r["split"] == name]
    return cache["latents"][idx], cache["images"][idx]


@torch.no_grad()
def psnr(decode, latents, images, batch=256, unit=pixels_to_unit):
    """Mean PSNR of decode(latents) against `images` (uint8 drawings; with unit=None, images
    already in [-1, 1] such as the VAE's)."""
    total = 0.0
    for i in range(0, len(latents), batch):
        y = decode(latents[i:i + batch]).clamp(-1, 1)
        x = unit(images[i:i + batch]) if unit else images[i:i + batch].float()
        mse = ((y - x) / 2).pow(2).flatten(1).mean(1)
        total += (10 * torch.log10(1 / mse.clamp_min(1e-10))).sum().item()
    return total / max(len(latents), 1)


@torch.no_grad()
def generate(args):
    """Sampled latents [N, 4, 16, 16] (diffusion space) and the VAE's images of them [N, 3, 64, 64]
    in [-1, 1] (fp16): `--count` from training prompts, `--test-count` from held-out ones; a
    `--ddim-share` of them with 20 DDIM steps and guidance, the rest with 4 LCM steps. The tasks
    are those tools/eval_model.py judges: text with the style's preset; an `--image-share` with
    the style from a reference drawing of another content (style strength 2, the model's
    reference_style_strength); an `--img2img-share` converting a drawing of the same content in
    another style at strength 0.8 (these two need `--data`, the dataset folder)."""
    import random
    import sys
    from PIL import Image
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from sample import ReferencePipeline, sampling_defaults
    torch.set_num_threads(args.threads)
    if (args.image_share or args.img2img_share) and not args.data:
        raise SystemExit("--image-share and --img2img-share need --data (the dataset folder)")
    cache = torch.load(args.cache, weights_only=False)
    pipe = ReferencePipeline(args.model)
    defaults = sampling_defaults(args.model)
    guidance = defaults["guidance_scale"]
    rng = random.Random(args.seed)
    out = {}
    for part, count in (("train", args.count), ("heldout", args.test_count)):
        recs = [r for r in cache["records"] if r["split"] == part]
        by_style, by_content = {}, {}
        for r in recs:
            by_style.setdefault(r["style"], []).append(r)
            by_content.setdefault(r["content"], []).append(r)
        latents, images, prompts = [], [], []
        start = time.time()
        for i in range(count):
            r = rng.choice(recs)
            ddim = rng.random() < args.ddim_share
            u = rng.random()
            task = "image" if u < args.image_share else "img2img" if u < args.image_share + args.img2img_share else "text"
            sources = [x for x in by_content[r["content"]] if x["style"] != r["style"]] if task == "img2img" else []
            if task == "img2img" and not sources:
                task = "text"
            kw = dict(guidance=guidance, steps=20 if ddim else 4, scheduler="ddim" if ddim else "lcm",
                      seed=rng.randrange(1 << 31), return_latents=True)
            preset = r["style"] if r["style"] in pipe.presets else None
            if task == "image":
                others = [x for x in by_style[r["style"]] if x["content"] != r["content"]] or by_style[r["style"]]
                ref = Image.open(os.path.join(args.data, rng.choice(others)["file"]))
                _, z = pipe(strip_style(r["prompt"]), style_images=[ref], style_strength=defaults["reference_style_strength"], **kw)
            elif task == "img2img":
                init = Image.open(os.path.join(args.data, rng.choice(sources)["file"]))
                _, z = pipe(r["prompt"], style_preset=preset, init_image=init, strength=0.8, **kw)
            else:
                _, z = pipe(r["prompt"], style_preset=preset, **kw)
            x = pipe.vae.decode(z / pipe.vae.config.scaling_factor).sample.clamp(-1, 1)
            latents.append(z[0]); images.append(x[0].half())
            prompts.append((r["prompt"], "ddim" if ddim else "lcm", task))
            if (i + 1) % 100 == 0:
                print(f"{part}: {i + 1}/{count} ({time.time() - start:.0f} s)", flush=True)
        out[part] = dict(latents=torch.stack(latents), images=torch.stack(images), prompts=prompts)
    tmp = args.out + ".tmp"
    torch.save(out, tmp)
    os.replace(tmp, args.out)
    print(f"wrote {args.out}: {args.count} training and {args.test_count} held-out samples")


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
    config = torch.load(ckpt, weights_only=False)["config"] if os.path.exists(ckpt) else TINY_CONFIG  # grown ones differ
    model = AutoencoderTiny(**config).decoder
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    disc = PatchDiscriminator() if args.adversarial else None
    disc_opt = torch.optim.AdamW(disc.parameters(), lr=args.lr, betas=(0.5, 0.9), weight_decay=0.0) if disc else None
    step, seconds = 0, 0.0
    if os.path.exists(ckpt):
        s = torch.load(ckpt, weights_only=False)
        model.load_state_dict(s["model"]); ema.load_state_dict(s["ema"])
        if "opt" in s:  # `grow` leaves a fresh optimizer
            opt.load_state_dict(s["opt"])
        if disc and "disc" in s:  # a run without --adversarial before starts a fresh critic
            disc.load_state_dict(s["disc"]); disc_opt.load_state_dict(s["disc_opt"])
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
    gen = None
    for path in args.generated.split(",") if args.generated else []:  # several sets: concatenated
        g = torch.load(path, weights_only=False)
        gen = g if gen is None else {part: dict(latents=torch.cat([gen[part]["latents"], g[part]["latents"]]),
                                                images=torch.cat([gen[part]["images"], g[part]["images"]]),
                                                prompts=gen[part]["prompts"] + g[part]["prompts"])
                                     for part in ("train", "heldout")}
    share = int(round(args.batch * args.generated_share)) if gen else 0
    features = StyleFeatures(args.model) if args.feature_loss else None

    def sampled():
        """PSNR against the VAE on the held-out sampled latents, for the log lines."""
        if not gen:
            return ""
        held = gen["heldout"]
        tasks = [p[2] if len(p) > 2 else "text" for p in held["prompts"]]  # sets before the task mix: text
        text = f", sampled vs VAE {psnr(ema, held['latents'], held['images'], unit=None):.2f} dB"
        for task in ("text", "image", "img2img"):
            idx = [i for i, t in enumerate(tasks) if t == task]
            if idx and len(set(tasks)) > 1:
                text += f" ({task} {psnr(ema, held['latents'][idx], held['images'][idx], unit=None):.2f}, {len(idx)})"
        return text
    if gen:
        print(f"{len(gen['train']['latents'])} sampled latents ({len(gen['heldout']['latents'])} held out), "
              f"{share} of {args.batch} per batch{sampled()}")
    stop = StopFlag()
    start, last_save, last_log = time.time(), time.time(), time.time()
    n = len(z_train)
    while not stop.requested and time.time() - start < args.minutes * 60:
        idx = torch.randint(0, n, (args.batch - share,))
        z, x = z_train[idx], pixels_to_unit(x_train[idx])
        if share:
            g = torch.randint(0, len(gen["train"]["latents"]), (share,))
            z = torch.cat([z, gen["train"]["latents"][g]])
            x = torch.cat([x, gen["train"]["images"][g].float()])
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            y = model(z).float()
        loss = F.l1_loss(y, x) + F.mse_loss(y, x)
        if features:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
                f_loss = features(y, x).float()
            loss = loss + args.feature_loss * f_loss
        if disc:
            # Hinge GAN: the critic tells the targets (drawings, VAE images) from the decodes; the
            # decoder gains -critic(decode), weighted by --adversarial beside L1 + MSE.
            d_loss = F.relu(1 - disc(x)).mean() + F.relu(1 + disc(y.detach())).mean()
            disc_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            disc_opt.step()
            g_adv = -disc(y).mean()
            loss = loss + args.adversarial * g_adv
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
            gan = f" critic {d_loss.item():.3f} adv {g_adv.item():.3f}" if disc else ""
            gan += f" features {f_loss.item():.4f}" if features else ""
            print(f"step {step} loss {loss.item():.4f}{gan} held-out PSNR (EMA) {psnr(ema, z_test, x_test):.2f} dB{sampled()} "
                  f"{(seconds + time.time() - start) / 60:.1f} min", flush=True)
            last_log = time.time()
        if time.time() - last_save > args.save_minutes * 60:
            save(ckpt, model, ema, opt, step, seconds + time.time() - start, disc, disc_opt, config)
            last_save = time.time()
    save(ckpt, model, ema, opt, step, seconds + time.time() - start, disc, disc_opt, config)
    print(f"step {step}: held-out PSNR (EMA) {psnr(ema, z_test, x_test):.2f} dB{sampled()}; checkpoint {ckpt}")


def save(path, model, ema, opt, step, seconds, disc=None, disc_opt=None, config=TINY_CONFIG):
    tmp = path + ".tmp"
    state = dict(model=model.state_dict(), ema=ema.state_dict(), step=step, seconds=seconds,
                 rng=torch.get_rng_state(), config=config)
    if opt:  # `grow` saves none: the grown decoder starts a fresh optimizer
        state["opt"] = opt.state_dict()
    if disc:
        state.update(disc=disc.state_dict(), disc_opt=disc_opt.state_dict())
    torch.save(state, tmp)
    os.replace(tmp, path)


def grow(args):
    """WORK/tiny.pt -> OUT/tiny.pt with one more block at the full-resolution level, starting as the
    same function: the new block's last convolution is zero, so it passes its (non-negative,
    after the previous block's ReLU) input through. Model and EMA both; a fresh optimizer."""
    s = torch.load(os.path.join(args.work, "tiny.pt"), weights_only=False)
    config = dict(s["config"])
    blocks = list(config["num_decoder_blocks"])
    blocks[-1] += 1
    config["num_decoder_blocks"] = tuple(blocks)
    old_last = len(AutoencoderTiny(**s["config"]).decoder.layers) - 1  # the final convolution
    torch.manual_seed(args.seed)
    grown = {}
    for key in ("model", "ema"):
        new = AutoencoderTiny(**config).decoder
        state = new.state_dict()
        for name, value in s[key].items():
            index = int(name.split(".")[1])
            target = name if index < old_last else name.replace(f"layers.{index}.", f"layers.{index + 1}.", 1)
            state[target] = value
        new_block = f"layers.{old_last}.conv.4."
        state[new_block + "weight"].zero_(); state[new_block + "bias"].zero_()
        new.load_state_dict(state)
        grown[key] = new
    os.makedirs(args.out, exist_ok=True)
    save(os.path.join(args.out, "tiny.pt"), grown["model"], grown["ema"], None, s["step"], s["seconds"], config=config)
    print(f"grew the decoder of step {s['step']} to num_decoder_blocks {config['num_decoder_blocks']} in {args.out}")


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
    ap.add_argument("command", choices=["train", "export", "generate", "grow"])
    ap.add_argument("--model", default="Weights/default",
                    help="generate: the model to sample (with unet_lcm/); train --feature-loss: its style encoder")
    ap.add_argument("--count", type=int, default=3000, help="generate: samples from training prompts")
    ap.add_argument("--test-count", type=int, default=256, help="generate: samples from held-out prompts")
    ap.add_argument("--ddim-share", type=float, default=0.15, help="generate: share sampled with 20 DDIM steps")
    ap.add_argument("--image-share", type=float, default=0.0, help="generate: share with a style reference drawing")
    ap.add_argument("--img2img-share", type=float, default=0.0, help="generate: share converted from a drawing (img2img)")
    ap.add_argument("--data", help="generate: the dataset folder (drawings for --image-share and --img2img-share)")
    ap.add_argument("--generated", help="train: sampled latents and VAE images (generate's output; several, comma-separated)")
    ap.add_argument("--generated-share", type=float, default=0.5, help="train: share of each batch from --generated")
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
    ap.add_argument("--adversarial", type=float, default=0.0,
                    help="train: weight of a PatchGAN hinge loss beside L1 + MSE (0: none); the critic is checkpointed too")
    ap.add_argument("--feature-loss", type=float, default=0.0,
                    help="train: weight of the shipped style encoder's feature distance (--model's style_encoder/)")
    ap.add_argument("--bf16", action="store_true", help="bfloat16 autocast for the forward pass (AMX CPUs); fp32 weights and loss")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    {"train": train, "export": export, "generate": generate, "grow": grow}[args.command](args)


if __name__ == "__main__":
    main()
