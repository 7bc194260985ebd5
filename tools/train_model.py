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

MAX_TOKENS = 16
STYLE_TOKENS = 4
CROSS_DIM = 128
EMBED_DIM = 256
SCHEDULE = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")
UNET_CONFIG = dict(
    sample_size=16, in_channels=4, out_channels=4, block_out_channels=(64, 128, 128), layers_per_block=1,
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    cross_attention_dim=CROSS_DIM, attention_head_dim=4, norm_num_groups=32)
TEXT_CONFIG = dict(hidden_size=CROSS_DIM, intermediate_size=512, num_hidden_layers=3, num_attention_heads=4,
                   max_position_embeddings=MAX_TOKENS, hidden_act="quick_gelu", pad_token_id=0, bos_token_id=2,
                   eos_token_id=2)
STYLE_CONFIG = dict(channels=[32, 64, 128, 128], groups=8, embed_dim=EMBED_DIM, tokens=STYLE_TOKENS,
                    cross_attention_dim=CROSS_DIM)


class StyleEncoder(nn.Module):
    """64x64 RGB in [-1, 1] -> STYLE_TOKENS tokens [B, T, CROSS_DIM]. 3x3 convs (stride 2 unless
    `strides` says otherwise), each followed by GroupNorm and SiLU, mean and max pooled (256-d),
    then diffusers' ImageProjection (linear to T x width, LayerNorm). A zero embedding means 'no
    style image'."""

    def __init__(self, channels, groups, embed_dim, tokens, cross_attention_dim, strides=None):
        super().__init__()
        from diffusers.models.embeddings import ImageProjection
        strides = strides or [2] * len(channels)
        assert len(strides) == len(channels), (channels, strides)
        layers, cin = [], 3
        for c, stride in zip(channels, strides):
            layers += [nn.Conv2d(cin, c, 3, stride=stride, padding=1), nn.GroupNorm(groups, c), nn.SiLU()]
            cin = c
        self.convs = nn.Sequential(*layers)
        self.pool_proj = nn.Linear(2 * cin, embed_dim)
        self.image_proj = ImageProjection(image_embed_dim=embed_dim, cross_attention_dim=cross_attention_dim,
                                          num_image_text_embeds=tokens)

    def embed(self, x):
        h = self.convs(x)
        return self.pool_proj(torch.cat([h.mean((2, 3)), h.amax((2, 3))], 1))

    def forward(self, x):
        return self.image_proj(self.embed(x))



def make_unet(config=UNET_CONFIG, style_tokens=STYLE_TOKENS):
    from diffusers import UNet2DConditionModel
    from diffusers.models.attention_processor import AttnProcessor2_0, IPAdapterAttnProcessor2_0
    unet = UNet2DConditionModel(**config)
    cross_dim = config["cross_attention_dim"]
    procs = {}
    for name in unet.attn_processors.keys():
        if name.endswith("attn2.processor"):
            block = name.split(".")[0]
            if block == "mid_block":
                hidden = unet.config.block_out_channels[-1]
            elif block == "up_blocks":
                hidden = list(reversed(unet.config.block_out_channels))[int(name.split(".")[1])]
            else:
                hidden = unet.config.block_out_channels[int(name.split(".")[1])]
            procs[name] = IPAdapterAttnProcessor2_0(hidden_size=hidden, cross_attention_dim=cross_dim,
                                                    num_tokens=(style_tokens,), scale=1.0)
        else:
            procs[name] = AttnProcessor2_0()
    unet.set_attn_processor(procs)
    return unet


def set_style_scale(unet, scale):
    for p in unet.attn_processors.values():
        if hasattr(p, "to_k_ip"):
            p.scale = [scale]


def unet_forward(unet, latents, t, text, style_tokens):
    return unet(latents, t, encoder_hidden_states=(text, [style_tokens])).sample


class Models(nn.Module):
    def __init__(self, vocab, unet_config=UNET_CONFIG, text_config=TEXT_CONFIG, style_config=STYLE_CONFIG):
        super().__init__()
        from transformers import CLIPTextConfig, CLIPTextModel
        self.configs = dict(unet=dict(unet_config), text=dict(text_config), style=dict(style_config))
        self.text = CLIPTextModel(CLIPTextConfig(vocab_size=vocab, **text_config))
        self.style = StyleEncoder(**style_config)
        self.unet = make_unet(unet_config, style_config["tokens"])


def tokenize(sp, prompts):
    ids = torch.zeros(len(prompts), MAX_TOKENS, dtype=torch.long)
    for i, p in enumerate(prompts):
        row = (sp.encode(p) if p else [])[: MAX_TOKENS - 1] + [2]
        ids[i, : len(row)] = torch.tensor(row)
    return ids


def strip_style(prompt):
    return prompt.rsplit(",", 1)[0] if prompt.endswith(" style") else prompt


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
            x = images[i:i + 128].to(args.device).float() / 127.5 - 1
            latents.append((vae.encode(x).latent_dist.mean * vae.config.scaling_factor).cpu())
    torch.save(dict(records=recs, images=images, latents=torch.cat(latents), scaling_factor=vae.config.scaling_factor),
               os.path.join(args.work, "cache.pt"))
    print(f"cached {len(recs)} latents, latent std {torch.cat(latents).std():.3f}")


# ----------------------------------------------------------------------------- train

def train(args):
    import sentencepiece as spm
    from diffusers import DDPMScheduler
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    cache = torch.load(os.path.join(args.work, "cache.pt"), weights_only=False)
    sp = spm.SentencePieceProcessor(model_file=os.path.join(args.work, "tokenizer.model"))
    recs, images, latents = cache["records"], cache["images"].to(dev), cache["latents"].to(dev)
    train_idx = [i for i, r in enumerate(recs) if r["split"] == "train"]
    by_style = {}
    for i in train_idx:
        by_style.setdefault(recs[i]["style"], []).append(i)
    ckpt = os.path.join(args.work, "ckpt.pt")
    s = torch.load(ckpt, weights_only=False, map_location="cpu") if os.path.exists(ckpt) else None
    # The style encoder's architecture: the checkpoint's, else that of the model continued from
    # (a stage-3 refined encoder differs from STYLE_CONFIG), else STYLE_CONFIG.
    style_config = s.get("style_config", STYLE_CONFIG) if s else exported_style_config(args.init) if args.init else STYLE_CONFIG
    models = Models(sp.get_piece_size(), style_config=style_config).to(dev)
    ema = copy.deepcopy(models).requires_grad_(False)
    opt = torch.optim.AdamW(models.parameters(), lr=args.lr, weight_decay=0.01)
    # Training-only heads (never exported): the style of the reference image from its embedding,
    # and the style named in the prompt from the text encoder's pooled (eos) state. They give the
    # encoders, trained from scratch, a direct style signal instead of only the UNet's weak early
    # use of them (real IP-Adapters start from a pretrained image encoder for the same reason).
    style_names = sorted(by_style)
    aux = nn.ModuleDict(dict(style=nn.Linear(EMBED_DIM, len(style_names)), text=nn.Linear(CROSS_DIM, len(style_names)))).to(dev)
    aux_opt = torch.optim.AdamW(aux.parameters(), lr=args.lr, weight_decay=0.01)
    sched = DDPMScheduler(**SCHEDULE)
    alphas = sched.alphas_cumprod.to(dev)
    step, elapsed = 0, 0.0
    if s:
        models.load_state_dict(s["models"]); ema.load_state_dict(s["ema"]); opt.load_state_dict(s["opt"])
        step, elapsed = s["step"], s["elapsed"]
        random.setstate(s["py_rng"]); torch.set_rng_state(s["rng"])
        if "aux" in s:  # checkpoints from before the auxiliary heads start them fresh
            aux.load_state_dict(s["aux"]); aux_opt.load_state_dict(s["aux_opt"])
        print(f"resumed at step {step} ({elapsed / 60:.1f} min)", flush=True)
    else:
        random.seed(args.seed); torch.manual_seed(args.seed)
        if args.init:
            load_exported(models, args.init)
            ema.load_state_dict(models.state_dict())
            print(f"initialised from {args.init}", flush=True)
    params = sum(p.numel() for p in models.parameters())
    print(f"parameters: {params / 1e6:.2f} M (unet {sum(p.numel() for p in models.unet.parameters()) / 1e6:.2f} M)", flush=True)

    def save():
        tmp = ckpt + ".tmp"
        torch.save(dict(models=models.state_dict(), ema=ema.state_dict(), opt=opt.state_dict(), step=step,
                        aux=aux.state_dict(), aux_opt=aux_opt.state_dict(), style_config=models.configs["style"],
                        elapsed=elapsed, py_rng=random.getstate(), rng=torch.get_rng_state(), args=vars(args)), tmp)
        os.replace(tmp, ckpt)

    snr = alphas / (1 - alphas)

    def snr_weight(t):
        """Min-SNR-gamma loss weights for epsilon prediction (Hang et al. 2023): min(SNR, gamma) / SNR,
        so nearly clean timesteps stop dominating the gradient; gamma 0 turns weighting off."""
        return (snr[t].clamp(max=args.snr_gamma) / snr[t]) if args.snr_gamma > 0 else torch.ones(len(t), device=dev)

    stop = StopFlag()  # SIGTERM / SIGINT: finish the step, save, exit
    start = last = last_save = time.time()
    losses, aux_losses = [], []
    while not stop.requested and time.time() - start < args.minutes * 60:
        idx = random.sample(train_idx, args.batch)
        prompts, refs = [], []
        for i in idx:
            r = recs[i]
            u = random.random()
            prompts.append("" if u < args.text_drop else strip_style(r["prompt"]) if u < (1 + args.text_drop) / 2
                           else r["prompt"])
            others = [j for j in random.sample(by_style[r["style"]], min(8, len(by_style[r["style"]])))
                      if recs[j]["content"] != r["content"]]
            refs.append(others[0] if others else i)
        x0 = latents[idx]
        ref_images = shift_images(images[refs].float() / 127.5 - 1, args.ref_shift)
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
        aux_style = F.cross_entropy(aux["style"](raw_embed), labels)
        aux_text = F.cross_entropy(aux["text"](pooled[named]), labels[named]) if named.any() else 0 * loss
        if args.aux_weight > 0:
            loss = loss + args.aux_weight * (aux_style + aux_text)
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
        aux_losses.append((aux_style.item(), aux_text.item(), center.item()))
        opt.zero_grad(set_to_none=True)
        aux_opt.zero_grad(set_to_none=True)
        loss.backward()
        aux_opt.step()
        torch.nn.utils.clip_grad_norm_(models.parameters(), 1.0)
        # Warm-up over 500 steps; with --anneal, a cosine over this run's --minutes down to 10%.
        anneal = 0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, (time.time() - start) / (args.minutes * 60)))) if args.anneal else 1.0
        for g in opt.param_groups:
            g["lr"] = args.lr * min(1.0, (step + 1) / 500) * anneal
        opt.step()
        with torch.no_grad():
            d = min(0.999, (1 + step) / (10 + step))
            for pe, pm in zip(ema.parameters(), models.parameters()):
                pe.lerp_(pm, 1 - d)
        step += 1
        losses.append(per_sample.mean().item())  # unweighted epsilon MSE, comparable across recipes
        now = time.time()
        if now - last > 120:
            elapsed += now - last
            last = now
            style_ce, text_ce, center_ratio = np.mean(aux_losses[-100:], axis=0)
            print(f"step {step} loss {np.mean(losses[-100:]):.4f} aux style/text CE {style_ce:.3f}/{text_ce:.3f}"
                  + (f" center {center_ratio:.3f}" if args.center_weight > 0 else "")
                  + f" trained {elapsed / 60:.1f} min ({args.batch * len(losses) / max(1e-9, now - start):.1f} samples/s)",
                  flush=True)
        if now - last_save > args.save_minutes * 60:
            save(); last_save = now
    elapsed += time.time() - last
    save()
    recent = f", loss {np.mean(losses[-50:]):.4f} over the last {min(50, len(losses))} steps" if losses else ""
    print(f"stopped at step {step}, {elapsed / 60:.1f} min trained in all{recent}", flush=True)


# ----------------------------------------------------------------------------- export

def export(args):
    """Writes the EMA weights in diffusers layout (fp16) plus tokenizer, scheduler, recipe."""
    import sentencepiece as spm
    from diffusers import AutoencoderKL
    sp = spm.SentencePieceProcessor(model_file=os.path.join(args.work, "tokenizer.model"))
    s = torch.load(os.path.join(args.work, "ckpt.pt"), weights_only=False, map_location="cpu")
    models = Models(sp.get_piece_size(), style_config=s.get("style_config", STYLE_CONFIG))
    models.load_state_dict(s["models" if args.raw else "ema"])
    vae = AutoencoderKL.from_pretrained(args.vae, torch_dtype=torch.float32)
    records = torch.load(os.path.join(args.work, "cache.pt"), weights_only=False)["records"]
    export_models(models, vae, os.path.join(args.work, "tokenizer.model"), args.out, {r["style"] for r in records})
    write_presets(args.work, args.out, args.device)
    print(f"exported step {s['step']} ({'raw' if args.raw else 'EMA'} weights) to {args.out}")


@torch.no_grad()
def write_presets(work, out, device="cpu"):
    """style_encoder/presets.safetensors: per style, the mean embedding (fp32, [embed_dim]) of its
    training-split drawings under the exported (fp16-rounded) style encoder of `out`. A prompt
    naming the style uses it as the style embedding when no reference image is given."""
    from safetensors.torch import save_file
    cache = torch.load(os.path.join(work, "cache.pt"), weights_only=False)
    encoder = exported_style_encoder(out).to(device)
    by_style = {}
    for i, r in enumerate(cache["records"]):
        if r["split"] == "train":
            by_style.setdefault(r["style"], []).append(i)
    presets = {}
    for style, idx in sorted(by_style.items()):
        total = torch.zeros(encoder.pool_proj.out_features, dtype=torch.float64)
        for k in range(0, len(idx), 256):
            x = cache["images"][idx[k:k + 256]].to(device).float() / 127.5 - 1
            total += encoder.embed(x).double().sum(0).cpu()
        presets[style] = (total / len(idx)).float().contiguous()
    save_file(presets, os.path.join(out, "style_encoder", "presets.safetensors"))
    print(f"style presets: {len(presets)} styles from {sum(len(v) for v in by_style.values())} training drawings")


def exported_style_config(folder):
    """The StyleEncoder arguments of an export (style_encoder/config.json)."""
    config = json.load(open(os.path.join(folder, "style_encoder", "config.json")))
    config.pop("_class_name", None)
    return config


def exported_style_encoder(folder):
    """A StyleEncoder built from the config of an export and loaded with its weights (fp32, eval)."""
    encoder = StyleEncoder(**exported_style_config(folder)).eval()
    load_exported_style(encoder, folder)
    return encoder


def load_exported_style(style, folder):
    """The style encoder (with its image projection) of an export in the default layout, fp32."""
    from safetensors.torch import load_file
    ip = load_file(os.path.join(folder, "ip_adapter", "ip_adapter.safetensors"))
    state = {k: v.float() for k, v in load_file(os.path.join(folder, "style_encoder", "model.safetensors")).items()}
    state.update({"image_proj." + k[len("image_proj."):].replace("proj.", "image_embeds.", 1): v.float()
                  for k, v in ip.items() if k.startswith("image_proj.")})
    style.load_state_dict(state)


def export_models(models, vae, tokenizer_model, out, styles):
    """The default layout: text_encoder, unet, ip_adapter, style_encoder, vae, scheduler, tokenizer,
    styles.json (the style names the model was trained on)."""
    import shutil
    from diffusers import DDIMScheduler, UNet2DConditionModel
    from safetensors.torch import save_file
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "styles.json"), "w") as f:
        json.dump(sorted(styles), f)
    models.text.to(torch.float16).save_pretrained(os.path.join(out, "text_encoder"), safe_serialization=True)
    # The UNet without its IP-Adapter processors (plain diffusers), the style branch separately.
    unet = models.unet
    # IP-Adapter file layout (what diffusers' load_ip_adapter reads): image_proj.{proj,norm}.*,
    # ip_adapter.{1 + 2n}.to_{k,v}_ip.weight for the n-th cross-attention in processor order.
    ip_state = {}
    n = 0
    for name, proc in unet.attn_processors.items():
        if hasattr(proc, "to_k_ip"):
            ip_state[f"ip_adapter.{1 + 2 * n}.to_k_ip.weight"] = proc.to_k_ip[0].weight.detach().half().contiguous()
            ip_state[f"ip_adapter.{1 + 2 * n}.to_v_ip.weight"] = proc.to_v_ip[0].weight.detach().half().contiguous()
            n += 1
    for k, v in models.style.image_proj.state_dict().items():
        ip_state["image_proj." + k.replace("image_embeds.", "proj.")] = v.half().contiguous()
    plain = UNet2DConditionModel(**models.configs["unet"])
    missing, unexpected = plain.load_state_dict({k: v for k, v in unet.state_dict().items() if "processor" not in k}, strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    plain.to(torch.float16).save_pretrained(os.path.join(out, "unet"), safe_serialization=True)
    os.makedirs(os.path.join(out, "ip_adapter"), exist_ok=True)
    save_file(ip_state, os.path.join(out, "ip_adapter", "ip_adapter.safetensors"))
    check_diffusers_loads(models, out)
    style_state = {k: v.half().contiguous() for k, v in models.style.state_dict().items() if not k.startswith("image_proj.")}
    os.makedirs(os.path.join(out, "style_encoder"), exist_ok=True)
    save_file(style_state, os.path.join(out, "style_encoder", "model.safetensors"))
    with open(os.path.join(out, "style_encoder", "config.json"), "w") as f:
        json.dump(dict(_class_name="StyleEncoder", **models.configs["style"]), f, indent=2)
    vae.to(torch.float16).save_pretrained(os.path.join(out, "vae"), safe_serialization=True)
    vae.float()
    DDIMScheduler(**SCHEDULE, clip_sample=False, set_alpha_to_one=False, steps_offset=1).save_pretrained(os.path.join(out, "scheduler"))
    os.makedirs(os.path.join(out, "tokenizer"), exist_ok=True)
    shutil.copy(tokenizer_model, os.path.join(out, "tokenizer", "tokenizer.model"))
    with open(os.path.join(out, "tokenizer", "tokenizer_config.json"), "w") as f:
        json.dump(dict(max_length=models.configs["text"]["max_position_embeddings"], pad_id=0, unk_id=1, eos_id=2,
                       bos_id=None, rule="encode, append eos, cut to max_length keeping the eos, pad with pad_id"),
                  f, indent=2)


def load_exported(models, folder):
    """Loads an export in the default layout (fp16) into `models` (fp32): the inverse of
    export_models, so training can continue from shipped weights."""
    from safetensors.torch import load_file
    text = load_file(os.path.join(folder, "text_encoder", "model.safetensors"))
    models.text.load_state_dict({k: v.float() for k, v in text.items()})
    unet = load_file(os.path.join(folder, "unet", "diffusion_pytorch_model.safetensors"))
    missing, unexpected = models.unet.load_state_dict({k: v.float() for k, v in unet.items()}, strict=False)
    assert not unexpected and all("processor" in k for k in missing), (missing, unexpected)
    ip = load_file(os.path.join(folder, "ip_adapter", "ip_adapter.safetensors"))
    n = 0
    with torch.no_grad():
        for proc in models.unet.attn_processors.values():
            if hasattr(proc, "to_k_ip"):
                proc.to_k_ip[0].weight.copy_(ip[f"ip_adapter.{1 + 2 * n}.to_k_ip.weight"].float())
                proc.to_v_ip[0].weight.copy_(ip[f"ip_adapter.{1 + 2 * n}.to_v_ip.weight"].float())
                n += 1
    load_exported_style(models.style, folder)


def check_diffusers_loads(models, out):
    """Loads the exported UNet and IP-Adapter with diffusers' own loader and compares its
    noise prediction with the trained model's (both fp32 on the fp16 weights)."""
    from diffusers import UNet2DConditionModel
    from safetensors.torch import load_file
    unet = UNet2DConditionModel.from_pretrained(os.path.join(out, "unet"), torch_dtype=torch.float32)
    ip = load_file(os.path.join(out, "ip_adapter", "ip_adapter.safetensors"))
    state = {"image_proj": {k[len("image_proj."):]: v.float() for k, v in ip.items() if k.startswith("image_proj.")},
             "ip_adapter": {k[len("ip_adapter."):]: v.float() for k, v in ip.items() if k.startswith("ip_adapter.")}}
    unet._load_ip_adapter_weights([state])
    reference = copy.deepcopy(models).half().float()
    g = torch.Generator().manual_seed(0)
    width, tokens = models.configs["unet"]["cross_attention_dim"], models.configs["text"]["max_position_embeddings"]
    x, text = torch.randn(2, 4, 16, 16, generator=g), torch.randn(2, tokens, width, generator=g)
    embed = torch.randn(2, models.configs["style"]["embed_dim"], generator=g)
    with torch.no_grad():
        ours = unet_forward(reference.unet, x, torch.tensor([500, 20]), text, reference.style.image_proj(embed))
        theirs = unet(x, torch.tensor([500, 20]), encoder_hidden_states=text,
                      added_cond_kwargs={"image_embeds": [embed[:, None, :]]}).sample
    diff = (ours - theirs).abs().max().item()
    assert diff < 1e-4, f"diffusers' load_ip_adapter path differs by {diff}"
    print(f"diffusers loads the exported UNet + IP-Adapter: max difference {diff:.2e}")


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
    ap.add_argument("--device", default="cpu", help="torch device for train, prepare's latents and the presets (e.g. cuda; CPU is the recipe's default)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    {"prepare": prepare, "train": train, "export": export,
     "presets": lambda a: write_presets(a.work, a.out, a.device)}[args.command](args)


if __name__ == "__main__":
    main()
