#!/usr/bin/env python3
"""The default model's definition, export and loading, shared by the training recipe
(train_model.py, refine_style.py), the reference sampler (sample.py), the fixtures
(make_fixtures.py) and the evaluation: the architecture constants, StyleEncoder, the UNet with
IP-Adapter processors, Models, tokenisation, the default-layout export (export_models,
write_presets), its inverse (load_exported, exported_style_encoder) and the check that diffusers'
own loaders read the export (check_diffusers_loads). Architecture notes: train_model.py.
"""
import copy
import json
import os
import random

import torch
import torch.nn as nn


def pixels_to_unit(images_uint8):
    """uint8 pixels (any layout) -> float in [-1, 1]: v / 127.5 - 1, as the Swift ImageResampler."""
    return images_uint8.float() / 127.5 - 1


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


def training_contents_sample(records, n):
    """n contents of the train split (dataset records), drawn by random.Random(0) from their sorted
    names: the set eval_plain.py --training-contents judges and train_model.py --only-contents
    trains on."""
    contents = sorted({r["content"] for r in records if r["split"] == "train"})
    if not 0 < n <= len(contents):
        raise SystemExit(f"{n} training contents asked for; the data has {len(contents)}")
    return random.Random(0).sample(contents, n)


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
            x = pixels_to_unit(cache["images"][idx[k:k + 256]].to(device))
            total += encoder.embed(x).double().sum(0).cpu()
        presets[style] = (total / len(idx)).float().contiguous()
    save_file(presets, os.path.join(out, "style_encoder", "presets.safetensors"))
    print(f"style presets: {len(presets)} styles from {sum(len(v) for v in by_style.values())} training drawings")


def exported_text_config(folder):
    """The CLIPTextModel arguments of an export (text_encoder/config.json) as TEXT_CONFIG names
    them (the plain-word text encoder of stage 5 has 4 layers, the earlier one 3)."""
    config = json.load(open(os.path.join(folder, "text_encoder", "config.json")))
    return {k: config[k] for k in TEXT_CONFIG}


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
