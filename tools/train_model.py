#!/usr/bin/env python3
"""Stage 2 of the default model: tokenizer, text encoder, style encoder and UNet with decoupled
style cross-attention (IP-Adapter), trained jointly on latents of the frozen stage-1 VAE.

  python3 tools/train_model.py prepare --data D --vae V --work W     # tokenizer + cached latents
  python3 tools/train_model.py train --work W --minutes 120          # resumes from W/ckpt.pt
  python3 tools/train_model.py export --work W --vae V --out Weights/default
  python3 tools/train_model.py presets --work W --out Weights/default    # style presets of an export
  (to continue the shipped model: prepare and train with --init Weights/default --vae Weights/default/vae)

Architecture (sized for CPU training, ../shared/TRAINING.md):
- tokenizer: SentencePiece unigram (vocab 1024, pad 0, unk 1, eos 2, no bos) trained on the
  prompt corpus; prompts are encoded, an eos appended, cut/padded to 16 ids.
- text encoder: transformers CLIPTextModel (hidden 128, 3 layers, 4 heads, quick_gelu).
- style encoder: StyleEncoder below, a small strided CNN on the 64x64 reference image giving a
  256-d embedding, then diffusers' ImageProjection to 4 style tokens of width 128.
- UNet: diffusers UNet2DConditionModel, 16x16x4 latent, channels (64, 128, 128); every
  cross-attention uses IPAdapterAttnProcessor2_0, i.e. out = attn(q, text) + scale * attn(q, style)
  with separate to_k_ip / to_v_ip projections, so style strength is a number at inference.
Training teaches style, not content: the style reference is another content drawn in the same
style. Text and style are dropped at random (classifier-free guidance); text names the style
in about half of the samples, so style can come from text, an image, or both.
"""
import argparse
import copy
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

from stop_flag import StopFlag
from train_text import distill_losses, split as text_split
from stylediff_model import (  # noqa: F401  (the model definition; re-exported for older imports)
    CROSS_DIM, EMBED_DIM, MAX_TOKENS, SCHEDULE, STYLE_CONFIG, STYLE_TOKENS, TEXT_CONFIG, UNET_CONFIG, Models,
    StyleEncoder, check_diffusers_loads, export_models, exported_style_config, exported_style_encoder, exported_text_config, load_exported,
    load_exported_style, make_unet, pixels_to_unit, set_style_scale, strip_style, tokenize, training_contents_sample, unet_forward, write_presets)

def shift_images(x, n):
    """Each image of x [B, 3, H, W] moved by up to n pixels in x and y, edges repeated."""
    if n <= 0:
        return x
    h, w = x.shape[-2:]
    padded = F.pad(x, (n, n, n, n), mode="replicate")
    offsets = torch.randint(0, 2 * n + 1, (len(x), 2))
    return torch.stack([padded[i, :, dy:dy + h, dx:dx + w] for i, (dy, dx) in enumerate(offsets.tolist())])


# ----------------------------------------------------------------------------- prepare

def prepare(args):
    import sentencepiece as spm
    from diffusers import AutoencoderKL
    spm.set_random_generator_seed(0)
    os.makedirs(args.work, exist_ok=True)
    corpus = os.path.join(args.data, "prompts.txt")
    extra = os.path.join(args.work, "corpus.txt")
    with open(corpus) as f, open(extra, "w") as g:
        lines = [l.strip() for l in f if l.strip()]
        for l in lines:  # the corpus also holds the style-less forms used in training
            g.write(l + "\n" + strip_style(l) + "\n")
    if args.init:  # continue a shipped model: keep its tokenizer
        import shutil
        shutil.copy(os.path.join(args.init, "tokenizer", "tokenizer.model"), os.path.join(args.work, "tokenizer.model"))
    else:
        spm.SentencePieceTrainer.train(input=extra, model_prefix=os.path.join(args.work, "tokenizer"), vocab_size=1024,
                                       model_type="unigram", character_coverage=1.0, pad_id=0, unk_id=1, bos_id=-1,
                                       eos_id=2, normalization_rule_name="identity", num_threads=1, minloglevel=2)
    recs = [json.loads(l) for l in open(os.path.join(args.data, "manifest.jsonl"))]
    vae = AutoencoderKL.from_pretrained(args.vae, torch_dtype=torch.float32).eval().to(args.device)
    images = torch.from_numpy(np.stack([np.asarray(Image.open(os.path.join(args.data, r["file"])).convert("RGB"))
                                        for r in recs])).permute(0, 3, 1, 2).contiguous()
    latents = []
    with torch.no_grad():
        for i in range(0, len(images), 128):
            x = pixels_to_unit(images[i:i + 128].to(args.device))
            latents.append((vae.encode(x).latent_dist.mean * vae.config.scaling_factor).cpu())
    torch.save(dict(records=recs, images=images, latents=torch.cat(latents), scaling_factor=vae.config.scaling_factor),
               os.path.join(args.work, "cache.pt"))
    print(f"cached {len(recs)} latents, latent std {torch.cat(latents).std():.3f}")


# ----------------------------------------------------------------------------- train

class TrainingState:
    """What a checkpoint holds (work/ckpt.pt): the models, their EMA, the optimiser, the
    training-only auxiliary heads with theirs, the step, the training time and the RNG states.
    A fresh state is seeded before anything is initialised, so --seed reproduces a run; it starts
    from --init's export when given."""

    def __init__(self, args, dev, vocab, style_names):
        self.path = os.path.join(args.work, "ckpt.pt")
        s = torch.load(self.path, weights_only=False, map_location="cpu") if os.path.exists(self.path) else None
        # The style encoder's architecture: the checkpoint's, else that of the model continued from
        # (a stage-3 refined encoder differs from STYLE_CONFIG), else STYLE_CONFIG.
        style_config = s.get("style_config", STYLE_CONFIG) if s else exported_style_config(args.init) if args.init else STYLE_CONFIG
        # Likewise the text encoder's (stage 5's has 4 layers).
        text_config = s.get("text_config", TEXT_CONFIG) if s else exported_text_config(args.init) if args.init else TEXT_CONFIG
        if not s:
            random.seed(args.seed); torch.manual_seed(args.seed)
        self.models = Models(vocab, text_config=text_config, style_config=style_config).to(dev)
        for part in args.freeze or []:  # kept as initialised (e.g. the stage-3 style encoder and its presets)
            getattr(self.models, part).requires_grad_(False)
        self.ema = copy.deepcopy(self.models).requires_grad_(False)
        self.opt = torch.optim.AdamW(self.models.parameters(), lr=args.lr, weight_decay=0.01)
        # Training-only heads (never exported): the style of the reference image from its embedding,
        # and the style named in the prompt from the text encoder's pooled (eos) state. They give the
        # encoders, trained from scratch, a direct style signal instead of only the UNet's weak early
        # use of them (real IP-Adapters start from a pretrained image encoder for the same reason).
        self.aux = nn.ModuleDict(dict(style=nn.Linear(EMBED_DIM, len(style_names)),
                                      text=nn.Linear(CROSS_DIM, len(style_names))))
        if args.distill:  # the distillation heads of tools/train_text.py, from its checkpoint
            heads = torch.load(os.path.join(args.distill, "text.pt"), weights_only=False)["heads"]
            names = sorted({k.split(".")[0] for k in heads})  # eos, mean (and tail)
            self.aux["distill"] = nn.ModuleDict({n: nn.Linear(CROSS_DIM, 384) for n in names})
            if not s:
                self.aux["distill"].load_state_dict(heads)
        self.aux.to(dev)
        self.aux_opt = torch.optim.AdamW(self.aux.parameters(), lr=args.lr, weight_decay=0.01)
        self.step, self.elapsed = 0, 0.0
        self.args = args
        if s:
            self.models.load_state_dict(s["models"]); self.ema.load_state_dict(s["ema"]); self.opt.load_state_dict(s["opt"])
            self.step, self.elapsed = s["step"], s["elapsed"]
            random.setstate(s["py_rng"]); torch.set_rng_state(s["rng"])
            if "aux" in s:  # checkpoints from before the auxiliary heads start them fresh
                self.aux.load_state_dict(s["aux"]); self.aux_opt.load_state_dict(s["aux_opt"])
            print(f"resumed at step {self.step} ({self.elapsed / 60:.1f} min)", flush=True)
        elif args.init:
            load_exported(self.models, args.init)
            self.ema.load_state_dict(self.models.state_dict())
            print(f"initialised from {args.init}", flush=True)

    def save(self):
        tmp = self.path + ".tmp"
        torch.save(dict(models=self.models.state_dict(), ema=self.ema.state_dict(), opt=self.opt.state_dict(), step=self.step,
                        aux=self.aux.state_dict(), aux_opt=self.aux_opt.state_dict(), style_config=self.models.configs["style"],
                        text_config=self.models.configs["text"],
                        elapsed=self.elapsed, py_rng=random.getstate(), rng=torch.get_rng_state(), args=vars(self.args)), tmp)
        os.replace(tmp, self.path)


def sample_batch(args, recs, by_style, train_idx, variants=None):
    """A batch of training records with their prompts and style references: text dropped
    (--text-drop), else the prompt without or with its style in equal shares; with --captions,
    the content part is one of its caption variants in --variant-share of the prompts. The
    reference is another content drawn in the same style (the record itself when the style has
    no other)."""
    idx = random.sample(train_idx, args.batch)
    prompts, refs = [], []
    for i in idx:
        r = recs[i]
        u = random.random()
        content = strip_style(r["prompt"])
        options = variants.get(r["content"]) if variants else None
        if options and random.random() < args.variant_share:
            content = random.choice(options)
        prompts.append("" if u < args.text_drop else content if u < (1 + args.text_drop) / 2
                       else f"{content}, {r['style']} style")
        others = [j for j in random.sample(by_style[r["style"]], min(8, len(by_style[r["style"]])))
                  if recs[j]["content"] != r["content"]]
        refs.append(others[0] if others else i)
    return idx, prompts, refs


def batch_losses(args, state, data, batch, snr_weight, data_distill=None):
    """The training loss of a batch: min-SNR-weighted epsilon MSE, plus the auxiliary style
    classifications (--aux-weight) and the reference-embedding Fisher ratio (--center-weight).
    Returns (loss, per-sample MSE, (aux style CE, aux text CE, center ratio))."""
    sp, recs, images, latents, alphas, style_names, dev = data
    idx, prompts, refs = batch
    models = state.models
    x0 = latents[idx]
    ref_images = shift_images(pixels_to_unit(images[refs]), args.ref_shift)
    drop_style = (torch.rand(args.batch) < args.style_drop).float()[:, None].to(dev)
    noise = torch.randn_like(x0)  # on a GPU from its own generator (not in the checkpoint)
    t = torch.randint(0, 1000, (args.batch,)).to(dev)
    a = alphas[t][:, None, None, None]
    xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
    ids = tokenize(sp, prompts).to(dev)
    text = models.text(input_ids=ids).last_hidden_state
    # The state at the eos token (CLIPTextModel's pooler_output picks the largest id, which is
    # the eos only in CLIP's own vocabulary).
    pooled = text[torch.arange(len(ids), device=dev), (ids == 2).int().argmax(1)]
    raw_embed = models.style.embed(ref_images)
    style_embed = raw_embed * (1 - drop_style)
    style_tokens = models.style.image_proj(style_embed)
    pred = unet_forward(models.unet, xt, t, text, style_tokens)
    per_sample = F.mse_loss(pred, noise, reduction="none").mean((1, 2, 3))
    loss = (per_sample * snr_weight(t)).mean()
    labels = torch.tensor([style_names.index(recs[i]["style"]) for i in idx], device=dev)  # the reference's style too
    named = torch.tensor([p.endswith(" style") for p in prompts], device=dev)
    aux_style = F.cross_entropy(state.aux["style"](raw_embed), labels)
    aux_text = F.cross_entropy(state.aux["text"](pooled[named]), labels[named]) if named.any() else 0 * loss
    if args.aux_weight > 0:
        loss = loss + args.aux_weight * (aux_style + aux_text)
    if args.distill:  # keep the text encoder's word knowledge (tools/train_text.py's losses)
        phrases, targets, phrase_idx = data_distill
        pick = random.sample(phrase_idx, args.distill_batch)
        ids = tokenize(sp, [phrases[i] for i in pick]).to(dev)
        distill, relation = distill_losses(models.text, state.aux["distill"], ids, targets[pick].to(dev))
        loss = loss + args.distill_weight * (distill + relation)
    center = torch.zeros((), device=dev)
    if args.center_weight > 0:
        # Fisher ratio of this batch's reference embeddings: within-style scatter over
        # between-style scatter, scale-free, so only tighter styles pay (not smaller embeddings).
        onehot = F.one_hot(labels, len(style_names)).float()  # [B, S]
        counts = onehot.sum(0)
        means = onehot.T @ raw_embed / counts.clamp(min=1)[:, None]  # [S, D]
        within = (raw_embed - onehot @ means).pow(2).sum(1).mean()
        between = (means[counts > 0] - raw_embed.mean(0)).pow(2).sum(1).mean()
        center = within / between
        loss = loss + args.center_weight * center
    return loss, per_sample, (aux_style.item(), aux_text.item(), center.item())


def optimise(args, state, loss, progress):
    """One optimiser step: gradients clipped to norm 1, learning rate warmed up over 500 steps
    and, with --anneal, along a cosine over this run's --minutes (`progress` in [0, 1]) down to
    10%; then the EMA (decay min(0.999, (1 + step) / (10 + step)))."""
    state.opt.zero_grad(set_to_none=True)
    state.aux_opt.zero_grad(set_to_none=True)
    loss.backward()
    state.aux_opt.step()
    torch.nn.utils.clip_grad_norm_(state.models.parameters(), 1.0)
    anneal = 0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, progress))) if args.anneal else 1.0
    for g in state.opt.param_groups:
        g["lr"] = args.lr * min(1.0, (state.step + 1) / 500) * anneal
    state.opt.step()
    with torch.no_grad():
        d = min(0.999, (1 + state.step) / (10 + state.step))
        for pe, pm in zip(state.ema.parameters(), state.models.parameters()):
            pe.lerp_(pm, 1 - d)
    state.step += 1


def train(args):
    """Trains until --minutes have passed (or --max-steps, or SIGTERM/SIGINT), logging every 2
    minutes and saving every --save-minutes and at the end; resumes from work/ckpt.pt."""
    import sentencepiece as spm
    from diffusers import DDPMScheduler
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    cache = torch.load(os.path.join(args.work, "cache.pt"), weights_only=False)
    sp = spm.SentencePieceProcessor(model_file=os.path.join(args.work, "tokenizer.model"))
    recs, images, latents = cache["records"], cache["images"].to(dev), cache["latents"].to(dev)
    train_idx = [i for i, r in enumerate(recs) if r["split"] == "train"]
    if args.only_contents is not None:  # a fitting probe, not a recipe step
        chosen = set(training_contents_sample(recs, args.only_contents))
        train_idx = [i for i in train_idx if recs[i]["content"] in chosen]
        print(f"--only-contents {args.only_contents}: {len(train_idx)} training drawings", flush=True)
    by_style = {}
    for i in train_idx:
        by_style.setdefault(recs[i]["style"], []).append(i)
    style_names = sorted(by_style)
    state = TrainingState(args, dev, sp.get_piece_size(), style_names)
    alphas = DDPMScheduler(**SCHEDULE).alphas_cumprod.to(dev)
    models = state.models
    params = sum(p.numel() for p in models.parameters())
    print(f"parameters: {params / 1e6:.2f} M (unet {sum(p.numel() for p in models.unet.parameters()) / 1e6:.2f} M)", flush=True)

    snr = alphas / (1 - alphas)

    def snr_weight(t):
        """Min-SNR-gamma loss weights for epsilon prediction (Hang et al. 2023): min(SNR, gamma) / SNR,
        so nearly clean timesteps stop dominating the gradient; gamma 0 turns weighting off."""
        return (snr[t].clamp(max=args.snr_gamma) / snr[t]) if args.snr_gamma > 0 else torch.ones(len(t), device=dev)

    data = (sp, recs, images, latents, alphas, style_names, dev)
    variants = json.load(open(os.path.join(args.captions, "captions.json"))) if args.captions else None
    data_distill = None
    if args.distill:
        t = torch.load(os.path.join(args.distill, "teacher.pt"), weights_only=False)
        data_distill = (t["phrases"], t["embeddings"].float(), text_split(t["phrases"])[0])
    stop = StopFlag()  # SIGTERM / SIGINT: finish the step, save, exit
    start = last = last_save = time.time()
    losses, aux_losses = [], []
    while not stop.requested and time.time() - start < args.minutes * 60 and (args.max_steps is None or state.step < args.max_steps):
        batch = sample_batch(args, recs, by_style, train_idx, variants)
        loss, per_sample, aux_terms = batch_losses(args, state, data, batch, snr_weight, data_distill)
        aux_losses.append(aux_terms)
        optimise(args, state, loss, (time.time() - start) / (args.minutes * 60))
        losses.append(per_sample.mean().item())  # unweighted epsilon MSE, comparable across recipes
        now = time.time()
        if now - last > 120:
            state.elapsed += now - last
            last = now
            style_ce, text_ce, center_ratio = np.mean(aux_losses[-100:], axis=0)
            print(f"step {state.step} loss {np.mean(losses[-100:]):.4f} aux style/text CE {style_ce:.3f}/{text_ce:.3f}"
                  + (f" center {center_ratio:.3f}" if args.center_weight > 0 else "")
                  + f" trained {state.elapsed / 60:.1f} min ({args.batch * len(losses) / max(1e-9, now - start):.1f} samples/s)",
                  flush=True)
        if now - last_save > args.save_minutes * 60:
            state.save(); last_save = now
    state.elapsed += time.time() - last
    state.save()
    recent = f", loss {np.mean(losses[-50:]):.4f} over the last {min(50, len(losses))} steps" if losses else ""
    print(f"stopped at step {state.step}, {state.elapsed / 60:.1f} min trained in all{recent}", flush=True)


# ----------------------------------------------------------------------------- export

def export(args):
    """Writes the EMA weights in diffusers layout (fp16) plus tokenizer, scheduler, recipe."""
    import sentencepiece as spm
    from diffusers import AutoencoderKL
    sp = spm.SentencePieceProcessor(model_file=os.path.join(args.work, "tokenizer.model"))
    s = torch.load(os.path.join(args.work, "ckpt.pt"), weights_only=False, map_location="cpu")
    models = Models(sp.get_piece_size(), text_config=s.get("text_config", TEXT_CONFIG),
                    style_config=s.get("style_config", STYLE_CONFIG))
    models.load_state_dict(s["models" if args.raw else "ema"])
    vae = AutoencoderKL.from_pretrained(args.vae, torch_dtype=torch.float32)
    records = torch.load(os.path.join(args.work, "cache.pt"), weights_only=False)["records"]
    export_models(models, vae, os.path.join(args.work, "tokenizer.model"), args.out, {r["style"] for r in records})
    trained = s.get("args", {})
    if "style" in (trained.get("freeze") or []) and trained.get("init"):
        # A frozen style encoder keeps its model's presets (stage 3's targets: the stage-2
        # encoder's style means, which the refined encoder maps drawings onto, not its own means).
        import shutil
        shutil.copy(os.path.join(trained["init"], "style_encoder", "presets.safetensors"),
                    os.path.join(args.out, "style_encoder", "presets.safetensors"))
        print(f"style presets: kept from {trained['init']} (style encoder frozen)")
    else:
        write_presets(args.work, args.out, args.device)
    print(f"exported step {s['step']} ({'raw' if args.raw else 'EMA'} weights) to {args.out}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["prepare", "train", "export", "presets"])
    ap.add_argument("--data")
    ap.add_argument("--vae")
    ap.add_argument("--work", required=True)
    ap.add_argument("--out")
    ap.add_argument("--init", help="a model in the default layout (e.g. Weights/default) to continue from")
    ap.add_argument("--minutes", type=float, default=120)
    ap.add_argument("--save-minutes", type=float, default=10)
    ap.add_argument("--max-steps", type=int, help="train: stop at this step count in all (a reproducible length, e.g. for smoke tests)")
    ap.add_argument("--only-contents", type=int, metavar="N",
                    help="train: only the drawings of the N training contents that eval_plain.py --training-contents N "
                         "judges (a probe of how fast the UNet fits a content, not a recipe step)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--text-drop", type=float, default=0.1,
                    help="share of empty prompts; the rest is split evenly between prompts without and with the style")
    ap.add_argument("--style-drop", type=float, default=0.5,
                    help="share of samples without a style image (text must carry the style there)")
    ap.add_argument("--snr-gamma", type=float, default=5.0, help="min-SNR-gamma loss weighting (0: plain MSE)")
    ap.add_argument("--raw", action="store_true",
                    help="export: the trained weights instead of their EMA (early in a run the EMA lags far behind)")
    ap.add_argument("--aux-weight", type=float, default=0.05,
                    help="weight of the auxiliary style-classification losses on the style and text encoders")
    ap.add_argument("--center-weight", type=float, default=0.0,
                    help="weight of a loss that tightens each style's reference embeddings: within-style over "
                         "between-style scatter in the batch (0: off)")
    ap.add_argument("--ref-shift", type=int, default=0,
                    help="shift each reference image by up to this many pixels (edge padded) before the style encoder")
    ap.add_argument("--anneal", action="store_true",
                    help="train: lower the learning rate along a cosine over this run's --minutes, to 10%% at the end")
    ap.add_argument("--captions", help="train: folder of tools/build_phrases.py; prompts use its caption variants")
    ap.add_argument("--variant-share", type=float, default=0.5, help="share of prompts whose content is a caption variant")
    ap.add_argument("--distill", help="train: work folder of tools/train_text.py (teacher.pt, text.pt); its distillation "
                                      "losses keep the text encoder's word knowledge while it trains with the UNet")
    ap.add_argument("--distill-weight", type=float, default=1.0)
    ap.add_argument("--freeze", nargs="*", choices=["text", "style", "unet"],
                    help="train: parts kept as initialised (style: the stage-3 style encoder, so its presets stay valid)")
    ap.add_argument("--distill-batch", type=int, default=128)
    ap.add_argument("--device", default="cpu", help="torch device for train, prepare's latents and the presets (e.g. cuda; CPU is the recipe's default)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    {"prepare": prepare, "train": train, "export": export,
     "presets": lambda a: write_presets(a.work, a.out, a.device)}[args.command](args)


if __name__ == "__main__":
    main()
