#!/usr/bin/env python3
"""Latent consistency distillation (LCM, arXiv 2310.04378, as diffusers'
examples/consistency_distillation/train_lcm_distill_sd_wds.py does it) of the default model:
the shipped UNet (teacher, frozen, with classifier-free guidance) is distilled into a student
UNet of the same architecture plus a guidance embedding (time_cond_proj_dim), which then
samples in 1-8 LCMScheduler steps with one UNet evaluation each.

  python3 tools/train_lcm.py train --work W --teacher Weights/default --minutes 120   # resumes W/lcm.pt
  python3 tools/train_lcm.py export --work W --out Weights/default                  # writes OUT/unet_lcm

W is the stage-2 work folder of tools/train_model.py prepare (cache.pt: latents of the shipped
VAE, drawings, records). The text encoder, style encoder and IP-Adapter weights are the
teacher's and stay frozen, so the export is one folder, unet_lcm/, beside the shipped unet/.

Each step: latents x0 of training drawings; a conditioning mode for the whole batch, mirroring
how the pipeline conditions (text naming the style with its preset at style scale 1; the content
alone with a reference drawing's embedding at scale 2; text alone with zero style tokens);
guidance w ~ U[w_min, w_max] (the pipeline's guidance is w + 1); a DDIM-solver step of the
teacher with guidance from t_n to t_{n-k} on the 50-step LCM schedule (k = 20); the student's
consistency output c_skip x + c_out x0(t_n) against the target network's (EMA of the student,
decay 0.95) at t_{n-k}; pseudo-Huber loss (c = 0.001). The target network is what is exported.
With --img2img-share P, a batch is drawn as img2img sees it with probability P: the latents of
the same content in another style, noised to a solver step in [--img2img-min-t, --img2img-max-t],
under the asked style's text and preset (the teacher's guided trajectory from there is the target).
"""
import argparse
import copy
import math
import os
import random
import time

import numpy as np
import torch
import torch.nn.functional as F

from stop_flag import StopFlag
from stylediff_model import (SCHEDULE, STYLE_CONFIG, UNET_CONFIG, Models, exported_style_config, exported_text_config, load_exported, make_unet,
                             pixels_to_unit, set_style_scale, strip_style, tokenize, unet_forward)

GUIDANCE_EMBED = 128     # time_cond_proj_dim of the student
ORIGINAL_STEPS = 50      # LCMScheduler original_inference_steps
TIMESTEP_SCALING = 10.0  # LCMScheduler timestep_scaling


def guidance_embedding(w, dim=GUIDANCE_EMBED):
    """diffusers' get_guidance_scale_embedding (the LCM pipelines embed guidance - 1)."""
    w = w * 1000.0
    half = dim // 2
    emb = torch.log(torch.tensor(10000.0)) / (half - 1)
    emb = torch.exp(torch.arange(half, dtype=torch.float32, device=w.device) * -emb)
    emb = w.float()[:, None] * emb[None, :]
    return torch.cat([torch.sin(emb), torch.cos(emb)], dim=1)


def boundary_scalings(t):
    """LCMScheduler.get_scalings_for_boundary_condition_discrete: (c_skip, c_out) at timesteps t."""
    scaled = t.double().cpu() * TIMESTEP_SCALING
    c_skip = 0.25 / (scaled ** 2 + 0.25)
    c_out = scaled / (scaled ** 2 + 0.25) ** 0.5
    return c_skip.float().to(t.device)[:, None, None, None], c_out.float().to(t.device)[:, None, None, None]


def student_unet(teacher_unet):
    """The teacher's UNet with a zero-initialised guidance projection (time_embedding.cond_proj)."""
    config = dict(UNET_CONFIG, time_cond_proj_dim=GUIDANCE_EMBED)
    unet = make_unet(config)
    missing, unexpected = unet.load_state_dict(teacher_unet.state_dict(), strict=False)
    assert not unexpected and missing == ["time_embedding.cond_proj.weight"], (missing, unexpected)
    with torch.no_grad():
        unet.time_embedding.cond_proj.weight.zero_()
    return unet


def ip_parameters(unet):
    return [p for name, p in unet.named_parameters() if "to_k_ip" in name or "to_v_ip" in name]


def optimizer(student, args):
    """AdamW over the trainable parameters in two groups: the guidance projection
    (time_embedding.cond_proj, zero-initialised, at lr x --cond-lr-scale) and the rest."""
    trainable = [(n, p) for n, p in student.named_parameters() if p.requires_grad]
    cond = [p for n, p in trainable if n.startswith("time_embedding.cond_proj")]
    rest = [p for n, p in trainable if not n.startswith("time_embedding.cond_proj")]
    return torch.optim.AdamW([dict(params=rest, lr_scale=1.0), dict(params=cond, lr_scale=args.cond_lr_scale)],
                             lr=args.lr, weight_decay=0.0)


def load_optimizer(opt, saved, student, args):
    """Resumes the optimizer; a checkpoint written with one parameter group (before the
    guidance projection had its own) has its per-parameter moments carried over by identity."""
    if len(saved["param_groups"]) == len(opt.param_groups):
        opt.load_state_dict(saved)
        for g, scale in zip(opt.param_groups, (1.0, args.cond_lr_scale)):
            g["lr_scale"] = scale
        return
    single = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.0)
    single.load_state_dict(saved)
    for p, st in single.state.items():
        opt.state[p] = st
    print("resumed a one-group optimizer state into two groups", flush=True)


class State:
    """Checkpoint W/lcm.pt: student, target (EMA), optimiser, step, elapsed time, RNG states."""

    def __init__(self, args, teacher):
        self.path = os.path.join(args.work, "lcm.pt")
        s = torch.load(self.path, weights_only=False, map_location="cpu") if os.path.exists(self.path) else None
        if not s:
            random.seed(args.seed); torch.manual_seed(args.seed)
        self.student = student_unet(teacher.unet)
        for p in ip_parameters(self.student):  # the shared ip_adapter file stays the teacher's
            p.requires_grad_(False)
        self.target = copy.deepcopy(self.student).requires_grad_(False)
        self.opt = optimizer(self.student, args)
        self.step, self.elapsed, self.losses = 0, 0.0, []
        self.resumed_optimizer = None
        if s:
            self.student.load_state_dict(s["student"]); self.target.load_state_dict(s["target"])
            self.resumed_optimizer = s["opt"]
            self.step, self.elapsed, self.losses = s["step"], s["elapsed"], s.get("losses", [])
            random.setstate(s["py_rng"]); torch.set_rng_state(s["rng"])
            print(f"resumed at step {self.step} ({self.elapsed / 60:.1f} min)", flush=True)

    def save(self, args):
        tmp = self.path + ".tmp"
        torch.save(dict(student=self.student.state_dict(), target=self.target.state_dict(), opt=self.opt.state_dict(),
                        step=self.step, elapsed=self.elapsed, losses=self.losses, py_rng=random.getstate(),
                        rng=torch.get_rng_state(), args=vars(args)), tmp)
        os.replace(tmp, self.path)


def load_teacher(args, vocab):
    style_config = exported_style_config(args.teacher)
    models = Models(vocab, text_config=exported_text_config(args.teacher), style_config=style_config)
    load_exported(models, args.teacher)
    return models.eval().requires_grad_(False)


def presets(teacher_folder):
    from safetensors.torch import load_file
    return {k: v.float() for k, v in load_file(os.path.join(teacher_folder, "style_encoder", "presets.safetensors")).items()}


def conditioning(args, teacher, sp, recs, images, by_style, preset, idx, dev, mode=None):
    """(text states, uncond text states, style tokens, uncond style tokens, style scale) for
    records idx under one mode drawn for the batch (see the module docstring); mode "preset"
    forces the first (text naming the style with its preset), as img2img conditions."""
    u = 0.0 if mode == "preset" else random.random()
    with torch.no_grad():
        zero_tokens = teacher.style.image_proj(torch.zeros(len(idx), teacher.style.pool_proj.out_features, device=dev))
        if u < 0.5:  # "<content>, <style> style" with the style's preset
            prompts = [recs[i]["prompt"] for i in idx]
            embed = torch.stack([preset[recs[i]["style"]] for i in idx]).to(dev)
            scale = 1.0
        elif u < 0.75:  # "<content>" + a reference drawing of another content in the style
            prompts = [strip_style(recs[i]["prompt"]) for i in idx]
            refs = []
            for i in idx:
                others = [j for j in random.sample(by_style[recs[i]["style"]], min(8, len(by_style[recs[i]["style"]])))
                          if recs[j]["content"] != recs[i]["content"]]
                refs.append(others[0] if others else i)
            embed = teacher.style.embed(pixels_to_unit(images[refs].to(dev)))
            scale = 2.0
        else:  # text alone (sometimes naming the style), no style tokens
            prompts = [recs[i]["prompt"] if random.random() < 0.5 else strip_style(recs[i]["prompt"]) for i in idx]
            embed = torch.zeros(len(idx), teacher.style.pool_proj.out_features, device=dev)
            scale = 1.0
        text = teacher.text(input_ids=tokenize(sp, prompts).to(dev)).last_hidden_state
        uncond = teacher.text(input_ids=tokenize(sp, [""] * len(idx)).to(dev)).last_hidden_state
        tokens = teacher.style.image_proj(embed)
    return text, uncond, tokens, zero_tokens, scale


def mixed(args, dev):
    """bfloat16 autocast under --bf16 (AMX on Sapphire Rapids CPUs, tensor cores on GPUs); fp32
    master weights, optimizer and loss either way."""
    return torch.autocast(dev.type, dtype=torch.bfloat16, enabled=args.bf16)


def train(args):
    import sentencepiece as spm
    from diffusers import DDPMScheduler
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    cache = torch.load(os.path.join(args.work, "cache.pt"), weights_only=False)
    sp = spm.SentencePieceProcessor(model_file=os.path.join(args.teacher, "tokenizer", "tokenizer.model"))
    recs, images, latents = cache["records"], cache["images"], cache["latents"].to(dev)
    train_idx = [i for i, r in enumerate(recs) if r["split"] == "train"]
    by_style, by_content = {}, {}
    for i in train_idx:
        by_style.setdefault(recs[i]["style"], []).append(i)
        by_content.setdefault(recs[i]["content"], []).append(i)
    teacher = load_teacher(args, sp.get_piece_size()).to(dev)
    preset = presets(args.teacher)
    state = State(args, teacher)
    state.student.to(dev); state.target.to(dev)
    if state.resumed_optimizer:  # optimizer state follows its parameters' device
        load_optimizer(state.opt, state.resumed_optimizer, state.student, args)
    alphas = DDPMScheduler(**SCHEDULE).alphas_cumprod.to(dev)
    k = SCHEDULE["num_train_timesteps"] // ORIGINAL_STEPS
    solver_t = (torch.arange(1, ORIGINAL_STEPS + 1) * k - 1).to(dev)                    # t_n: 19, 39, ..., 999
    solver_prev_alpha = torch.cat([alphas[:1], alphas[solver_t[:-1]]])       # alpha at t_{n-k} (alphas[0] below 19)
    # Solver steps img2img batches are noised to: t_n in [--img2img-min-t, --img2img-max-t].
    img2img_n = torch.nonzero((solver_t >= args.img2img_min_t) & (solver_t <= args.img2img_max_t)).flatten()
    if args.img2img_share > 0 and len(img2img_n) == 0:
        raise SystemExit(f"no solver timestep in [{args.img2img_min_t}, {args.img2img_max_t}]")
    print(f"student {sum(p.numel() for p in state.student.parameters()) / 1e6:.2f} M parameters, "
          f"{len(train_idx)} training drawings", flush=True)
    stop = StopFlag()
    start = last = last_save = time.time()
    done = 0
    while not stop.requested and time.time() - start < args.minutes * 60 and (args.max_steps is None or state.step < args.max_steps):
        idx = random.sample(train_idx, args.batch)
        img2img = random.random() < args.img2img_share
        if img2img:  # noised drawings of the same content in another style, conditioned on the asked style
            src = []
            for i in idx:
                others = [j for j in by_content[recs[i]["content"]] if recs[j]["style"] != recs[i]["style"]]
                src.append(random.choice(others) if others else i)
            x0 = latents[src]
        else:
            x0 = latents[idx]
        with mixed(args, dev):
            text, uncond, tokens, zero_tokens, scale = conditioning(args, teacher, sp, recs, images, by_style, preset, idx, dev,
                                                                    mode="preset" if img2img else None)
        if img2img:
            n = img2img_n[torch.randint(0, len(img2img_n), (args.batch,))].to(dev)
        else:
            n = torch.randint(0, ORIGINAL_STEPS, (args.batch,)).to(dev)
        t, prev_alpha = solver_t[n], solver_prev_alpha[n]
        t_prev = (t - k).clamp(min=0)
        a = alphas[t][:, None, None, None]
        noise = torch.randn_like(x0)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        w = ((args.w_max - args.w_min) * torch.rand(args.batch) + args.w_min).to(dev)
        w_emb = guidance_embedding(w)
        w4 = w[:, None, None, None]
        # Student: the consistency function at t_n.
        set_style_scale(state.student, scale)
        with mixed(args, dev):
            eps = state.student(xt, t, encoder_hidden_states=(text, [tokens]), timestep_cond=w_emb).sample.float()
        c_skip, c_out = boundary_scalings(t)
        pred = c_skip * xt + c_out * (xt - (1 - a).sqrt() * eps) / a.sqrt()
        with torch.no_grad(), mixed(args, dev):
            # Teacher: one guided DDIM step t_n -> t_{n-k}.
            set_style_scale(teacher.unet, scale)
            both = unet_forward(teacher.unet, torch.cat([xt, xt]), torch.cat([t, t]), torch.cat([uncond, text]),
                                torch.cat([zero_tokens, tokens])).float()
            eps_u, eps_c = both.chunk(2)
            x0_u, x0_c = [(xt - (1 - a).sqrt() * e) / a.sqrt() for e in (eps_u, eps_c)]
            x0_g = x0_c + w4 * (x0_c - x0_u)
            eps_g = eps_c + w4 * (eps_c - eps_u)
            pa = prev_alpha[:, None, None, None]
            x_prev = pa.sqrt() * x0_g + (1 - pa).sqrt() * eps_g
            # Target network at t_{n-k}.
            set_style_scale(state.target, scale)
            eps_t = state.target(x_prev, t_prev, encoder_hidden_states=(text, [tokens]), timestep_cond=w_emb).sample.float()
            ap = alphas[t_prev][:, None, None, None]
            s_skip, s_out = boundary_scalings(t_prev)
            target = s_skip * x_prev + s_out * (x_prev - (1 - ap).sqrt() * eps_t) / ap.sqrt()
        loss = (torch.sqrt((pred.float() - target.float()) ** 2 + args.huber_c ** 2) - args.huber_c).mean()
        state.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(state.student.parameters(), 1.0)
        for g in state.opt.param_groups:
            g["lr"] = args.lr * g["lr_scale"] * min(1.0, (state.step + 1) / args.warmup)
        state.opt.step()
        with torch.no_grad():
            for pt, ps in zip(state.target.parameters(), state.student.parameters()):
                pt.lerp_(ps, 1 - args.ema)
        state.step += 1
        state.losses.append(loss.item())
        done += 1
        now = time.time()
        if now - last > 120:
            state.elapsed += now - last
            last = now
            print(f"step {state.step} loss {np.mean(state.losses[-100:]):.5f} trained {state.elapsed / 60:.1f} min "
                  f"({args.batch * done / max(1e-9, now - start):.1f} samples/s)",
                  flush=True)
        if now - last_save > args.save_minutes * 60:
            state.save(args); last_save = now
    state.elapsed += time.time() - last
    state.save(args)
    print(f"stopped at step {state.step}, {state.elapsed / 60:.1f} min in all, loss {np.mean(state.losses[-50:]):.5f}", flush=True)


def export(args):
    """OUT/unet_lcm: the target network in diffusers layout (fp16, no IP-Adapter processors: the
    default layout's ip_adapter file serves both UNets)."""
    from diffusers import UNet2DConditionModel
    s = torch.load(os.path.join(args.work, "lcm.pt"), weights_only=False, map_location="cpu")
    os.makedirs(args.out, exist_ok=True)
    plain = UNet2DConditionModel(**dict(UNET_CONFIG, time_cond_proj_dim=GUIDANCE_EMBED))
    state = {k: v for k, v in s["target"].items() if "processor" not in k}
    missing, unexpected = plain.load_state_dict(state, strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    plain.to(torch.float16).save_pretrained(os.path.join(args.out, "unet_lcm"), safe_serialization=True)
    print(f"exported the LCM UNet of step {s['step']} to {args.out}/unet_lcm")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["train", "export"])
    ap.add_argument("--work", required=True)
    ap.add_argument("--teacher", default="Weights/default")
    ap.add_argument("--out")
    ap.add_argument("--minutes", type=float, default=120)
    ap.add_argument("--max-steps", type=int)
    ap.add_argument("--save-minutes", type=float, default=10)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--cond-lr-scale", type=float, default=1.0, help="learning-rate factor of the guidance projection")
    ap.add_argument("--ema", type=float, default=0.95, help="target network decay (LCM: 0.95)")
    ap.add_argument("--w-min", type=float, default=2.0, help="smallest guidance w (pipeline guidance w + 1)")
    ap.add_argument("--w-max", type=float, default=14.0)
    ap.add_argument("--huber-c", type=float, default=0.001)
    ap.add_argument("--img2img-share", type=float, default=0.0,
                    help="share of batches drawn as img2img sees them: the latents of the same content in another "
                         "style, noised to a solver step in [--img2img-min-t, --img2img-max-t], conditioned on the asked "
                         "style's text and preset")
    ap.add_argument("--img2img-min-t", type=int, default=0, help="smallest timestep of img2img batches")
    ap.add_argument("--img2img-max-t", type=int, default=799,
                    help="largest timestep of img2img batches (4 LCM steps at strength 0.8 start at 799: the schedule "
                         "is made from the first 40 of the 50 original steps)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--bf16", action="store_true", help="bfloat16 autocast for the networks' forward passes")
    ap.add_argument("--device", default="cpu", help="torch device (e.g. cuda on a lent GPU)")
    args = ap.parse_args()
    if args.command == "train":
        train(args)
    else:
        export(args)


if __name__ == "__main__":
    main()
