#!/usr/bin/env python3
"""PyTorch reference sampler for models in the default layout (Weights/default): the same
algorithm as Swift's StyleDiffusionPipeline, built from diffusers/transformers parts, used for
evaluation and as the parity reference.

  python3 tools/sample.py --model Weights/default --prompt "folder icon, papirus style" --seed 1 -o out.png
  python3 tools/sample.py --model M --prompt "folder icon" --style-image ref.png --init-image in.png --strength 0.6 ...

Algorithm: CFG over the batch [uncond, cond] (negative prompt "" and a zero style embedding for
uncond), eps = eps_u + g (eps_c - eps_u); the cond style embedding comes from the style images,
(each snapped to the presets with --style-snap), else from --style-preset
(style_encoder/presets.safetensors), else zero; IP-Adapter scale =
style strength (1 with neither); one torch CPU generator seeded once: img2img draws the VAE latent sample, then the
noise, txt2img draws the initial latents; decode with diffusers' postprocessing.
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stylediff_model  # noqa: E402
from stylediff_model import pixels_to_unit  # noqa: E402

SCHEDULERS = {"ddim": "DDIMScheduler", "ddpm": "DDPMScheduler", "euler": "EulerDiscreteScheduler",
              "dpmpp": "DPMSolverMultistepScheduler", "lcm": "LCMScheduler"}


class ReferencePipeline:
    def __init__(self, model):
        import sentencepiece as spm
        from diffusers import AutoencoderKL, UNet2DConditionModel
        from safetensors.torch import load_file
        from transformers import CLIPTextModel
        self.model = model
        cfg = json.load(open(os.path.join(model, "tokenizer", "tokenizer_config.json")))
        self.max_length, self.pad, self.eos = cfg["max_length"], cfg["pad_id"], cfg["eos_id"]
        self.sp = spm.SentencePieceProcessor(model_file=os.path.join(model, "tokenizer", "tokenizer.model"))
        f32 = torch.float32
        self.text = CLIPTextModel.from_pretrained(os.path.join(model, "text_encoder"), torch_dtype=f32).eval()
        self.unet = UNet2DConditionModel.from_pretrained(os.path.join(model, "unet"), torch_dtype=f32).eval()
        ip = load_file(os.path.join(model, "ip_adapter", "ip_adapter.safetensors"))
        state = {"image_proj": {k[11:]: v.float() for k, v in ip.items() if k.startswith("image_proj.")},
                 "ip_adapter": {k[11:]: v.float() for k, v in ip.items() if k.startswith("ip_adapter.")}}
        self.unet._load_ip_adapter_weights([state])
        self.unet_lcm = None
        lcm = os.path.join(model, "unet_lcm")
        if os.path.isdir(lcm):  # the distilled UNet --fast / --scheduler lcm run (guidance embedded)
            self.unet_lcm = UNet2DConditionModel.from_pretrained(lcm, torch_dtype=f32).eval()
            self.unet_lcm._load_ip_adapter_weights([state])
        self.style = stylediff_model.exported_style_encoder(model)
        self.vae = AutoencoderKL.from_pretrained(os.path.join(model, "vae"), torch_dtype=f32).eval()
        self.scheduler_config = json.load(open(os.path.join(model, "scheduler", "scheduler_config.json")))
        presets = os.path.join(model, "style_encoder", "presets.safetensors")
        self.presets = load_file(presets) if os.path.exists(presets) else {}

    def ids(self, prompt):
        row = (self.sp.encode(prompt) if prompt else [])[: self.max_length - 1] + [self.eos]
        return row + [self.pad] * (self.max_length - len(row))

    def snap(self, e, temperature):
        """e [D] -> the softmax mixture of the presets (sorted names) with logits
        -|e - p_k|^2 / (temperature * mean squared distance between two presets)."""
        p = torch.stack([self.presets[k] for k in sorted(self.presets)]).double()
        if len(p) == 1:
            return p[0].float()
        d = torch.cdist(p, p).pow(2)
        spacing = d.sum() / (len(p) * (len(p) - 1))
        w = torch.softmax(-(e.double() - p).pow(2).sum(1) / (temperature * spacing), 0)
        return (w[:, None] * p).sum(0).float()

    def style_embedding(self, images, weights, blend, snap=0.0):
        dim = self.style.pool_proj.out_features
        if not images:
            return torch.zeros(1, dim)
        embs = []
        for img in images:
            x = pixels_to_unit(torch.from_numpy(np.asarray(img.convert("RGB").resize((64, 64), Image.BILINEAR))))
            embs.append(self.style.embed(x.permute(2, 0, 1)[None])[0])
            if snap > 0:
                embs[-1] = self.snap(embs[-1], snap)
        w = torch.tensor(weights, dtype=torch.float32)
        if blend == "linear":
            return (torch.stack(embs) * (w / w.sum())[:, None]).sum(0, keepdim=True)
        a, b = embs[0].double(), embs[1].double()
        t = float(w[1] / w.sum())
        na, nb = a.norm(), b.norm()
        omega = torch.acos(torch.clamp((a @ b) / (na * nb), -1, 1))
        if math.sin(omega) <= 1e-6:
            return ((1 - t) * embs[0] + t * embs[1])[None]
        wa, wb = math.sin((1 - t) * omega) / math.sin(omega), math.sin(t * omega) / math.sin(omega)
        return ((wa * a / na + wb * b / nb) * ((1 - t) * na + t * nb)).float()[None]

    @torch.no_grad()
    def __call__(self, prompt, negative="", style_images=(), style_weights=(), blend="linear", style_strength=1.0,
                 guidance=5.0, steps=20, scheduler="ddim", eta=0.0, seed=0, init_image=None, strength=0.6,
                 style_preset=None, style_snap=0.0, return_latents=False):
        import diffusers
        sched = getattr(diffusers, SCHEDULERS[scheduler]).from_config(self.scheduler_config)
        sched.set_timesteps(steps)
        # LCM with unet_lcm/: one conditional evaluation per step, guidance - 1 embedded (as the
        # Swift pipeline and diffusers' LCM pipelines); without it, CFG as for every scheduler.
        unet = self.unet_lcm if scheduler == "lcm" and self.unet_lcm is not None else self.unet
        embedded = unet is self.unet_lcm
        text = self.text(input_ids=torch.tensor([self.ids(negative), self.ids(prompt)])).last_hidden_state
        embed = self.style_embedding(list(style_images), list(style_weights) or [1.0] * len(style_images), blend,
                                     style_snap)
        use_preset = style_preset is not None and not len(style_images)
        if use_preset:
            embed = self.presets[style_preset].float()[None]
        embeds = torch.cat([torch.zeros_like(embed), embed])[:, None, :]
        for p in unet.attn_processors.values():
            if hasattr(p, "to_k_ip"):
                p.scale = [style_strength if len(style_images) or use_preset else 1.0]
        g = torch.Generator("cpu").manual_seed(seed)
        timesteps = sched.timesteps
        if init_image is not None:
            n = len(timesteps)
            start = max(n - min(int(n * strength), n), 0)
            timesteps = timesteps[start:]
            if hasattr(sched, "set_begin_index"):
                sched.set_begin_index(start)
            x = pixels_to_unit(torch.from_numpy(np.asarray(init_image.convert("RGB").resize((64, 64), Image.BILINEAR))))
            x = x.permute(2, 0, 1)[None]
            clean = self.vae.encode(x).latent_dist.sample(g) * self.vae.config.scaling_factor
            noise = torch.randn(clean.shape, generator=g)
            latents = sched.add_noise(clean, noise, timesteps[:1])
        else:
            latents = torch.randn((1, 4, 16, 16), generator=g) * sched.init_noise_sigma
        extra = {"eta": eta, "generator": g} if scheduler == "ddim" else {"generator": g}
        if embedded:
            from diffusers.pipelines.latent_consistency_models.pipeline_latent_consistency_text2img import (
                LatentConsistencyModelPipeline)
            w = LatentConsistencyModelPipeline.get_guidance_scale_embedding(
                None, torch.tensor([guidance - 1.0]), embedding_dim=unet.config.time_cond_proj_dim)
        for t in timesteps:
            if embedded:
                inp = sched.scale_model_input(latents, t)
                out = unet(inp, t, encoder_hidden_states=text[1:], timestep_cond=w,
                           added_cond_kwargs={"image_embeds": [embeds[1:]]}).sample
            else:
                inp = sched.scale_model_input(torch.cat([latents] * 2), t)
                eps = unet(inp, t, encoder_hidden_states=text, added_cond_kwargs={"image_embeds": [embeds]}).sample
                eu, ec = eps.chunk(2)
                out = eu + guidance * (ec - eu)
            latents = sched.step(out, t, latents, **extra).prev_sample
        image = self.vae.decode(latents / self.vae.config.scaling_factor).sample
        image = (image / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).numpy()
        pil = Image.fromarray((image[0] * 255).round().astype("uint8"))
        return (pil, latents) if return_latents else pil


def sampling_defaults(model):
    """The model's sampling_defaults.json (as the Swift CLI reads it): guidance_scale (else 5) and
    reference_style_strength (else 1, used only with style images)."""
    values = dict(guidance_scale=5.0, reference_style_strength=1.0)
    path = os.path.join(model, "sampling_defaults.json")
    if os.path.exists(path):
        given = json.load(open(path))
        unknown = set(given) - set(values)
        if unknown:
            raise SystemExit(f"{path}: unknown field(s) {sorted(unknown)}")
        values.update({k: float(v) for k, v in given.items()})
    return values


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompt", required=True)
    ap.add_argument("--negative", default="")
    ap.add_argument("--style-image", action="append", default=[])
    ap.add_argument("--style-weight", action="append", type=float, default=[])
    ap.add_argument("--blend", default="linear", choices=["linear", "slerp"])
    ap.add_argument("--style-strength", type=float,
                    help="default: 1, with style images the model's sampling_defaults.json reference_style_strength")
    ap.add_argument("--style-snap", type=float, default=0.0,
                    help="snap each style image to the presets: softmax mixture at this temperature (0: off)")
    ap.add_argument("--style-preset", help="a style name of style_encoder/presets.safetensors (used without style images)")
    ap.add_argument("--guidance", type=float, help="default: the model's sampling_defaults.json guidance_scale, else 5")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--scheduler", default="ddim", choices=sorted(SCHEDULERS))
    ap.add_argument("--eta", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--init-image")
    ap.add_argument("--strength", type=float, default=0.6)
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    defaults = sampling_defaults(args.model)
    if args.guidance is None:
        args.guidance = defaults["guidance_scale"]
    if args.style_strength is None:
        args.style_strength = defaults["reference_style_strength"] if args.style_image else 1.0
    pipe = ReferencePipeline(args.model)
    img = pipe(args.prompt, args.negative, [Image.open(p) for p in args.style_image], args.style_weight, args.blend,
               args.style_strength, args.guidance, args.steps, args.scheduler, args.eta, args.seed,
               Image.open(args.init_image) if args.init_image else None, args.strength, args.style_preset,
               args.style_snap)
    img.save(args.output)


if __name__ == "__main__":
    main()
