#!/usr/bin/env python3
"""Writes a random-initialised Stable Diffusion 1.5-architecture diffusers pipeline folder (the
stable-diffusion-v1-5 configs: CLIP ViT-L/14 text encoder, UNet, VAE, its PNDM
scheduler_config.json verbatim, the real CLIP vocabulary from Tests/Fixtures/clip_tokenizer), for
the 512 px CLI run and the benchmarks, plus fixed UNet benchmark inputs. About 4.3 GB in fp32:
keep it outside git. With --sd21, the stable-diffusion-2-1 (768-v) architecture instead: OpenCLIP
ViT-H text encoder as diffusers ships it (23 layers, gelu, pad "!"), per-block head dims,
linear projections, a v-prediction DDIM scheduler, sample_size 96 (768 px).

  python3 tools/make_sd15_random.py --out /var/tmp/sd15
  python3 tools/make_sd15_random.py --sd21 --out /var/tmp/sd21
  .build/release/stylediff generate "a lighthouse" --model /var/tmp/sd15 --steps 2 -o sd15.png
  python3 tools/bench_reference.py sd --model /var/tmp/sd15
"""
import argparse
import json
import os
import shutil

import torch
from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
TOKENIZER = os.path.join(HERE, "..", "Tests", "Fixtures", "clip_tokenizer")

# stable-diffusion-v1-5 unet/config.json and vae/config.json values.
SD15_UNET = dict(
    sample_size=64, in_channels=4, out_channels=4, center_input_sample=False, flip_sin_to_cos=True,
    freq_shift=0, down_block_types=["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
    up_block_types=["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3, block_out_channels=[320, 640, 1280, 1280],
    layers_per_block=2, downsample_padding=1, mid_block_scale_factor=1, act_fn="silu",
    norm_num_groups=32, norm_eps=1e-5, cross_attention_dim=768, attention_head_dim=8)
SD15_VAE = dict(
    in_channels=3, out_channels=3, latent_channels=4, block_out_channels=[128, 256, 512, 512],
    down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
    layers_per_block=2, norm_num_groups=32, act_fn="silu", sample_size=512, scaling_factor=0.18215)
# openai/clip-vit-large-patch14's text model, as stable-diffusion-v1-5/text_encoder/config.json.
SD15_TEXT = dict(
    vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
    max_position_embeddings=77, hidden_act="quick_gelu", layer_norm_eps=1e-5, projection_dim=768,
    pad_token_id=1, bos_token_id=0, eos_token_id=2)
# stable-diffusion-v1-5/scheduler/scheduler_config.json as published.
SD15_SCHEDULER = {
    "_class_name": "PNDMScheduler", "_diffusers_version": "0.6.0", "beta_end": 0.012, "beta_schedule": "scaled_linear",
    "beta_start": 0.00085, "num_train_timesteps": 1000, "set_alpha_to_one": False, "skip_prk_steps": True,
    "steps_offset": 1, "trained_betas": None, "clip_sample": False}


# stable-diffusion-2-1's changes to those configs.
SD21_UNET = dict(SD15_UNET, sample_size=96, cross_attention_dim=1024, attention_head_dim=[5, 10, 20, 20],
                 use_linear_projection=True, upcast_attention=True)
SD21_TEXT = dict(SD15_TEXT, hidden_size=1024, intermediate_size=4096, num_hidden_layers=23, num_attention_heads=16,
                 hidden_act="gelu", projection_dim=512)
SD21_SCHEDULER = {
    "_class_name": "DDIMScheduler", "_diffusers_version": "0.8.0", "beta_end": 0.012, "beta_schedule": "scaled_linear",
    "beta_start": 0.00085, "clip_sample": False, "num_train_timesteps": 1000, "prediction_type": "v_prediction",
    "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1, "trained_betas": None}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--sd21", action="store_true", help="the stable-diffusion-2-1 (768-v) architecture")
    args = ap.parse_args()
    torch.manual_seed(0)
    unet = UNet2DConditionModel(**(SD21_UNET if args.sd21 else SD15_UNET)).eval()
    vae = AutoencoderKL(**SD15_VAE).eval()
    text = CLIPTextModel(CLIPTextConfig(**(SD21_TEXT if args.sd21 else SD15_TEXT))).eval()
    tokenizer = CLIPTokenizer(os.path.join(TOKENIZER, "vocab.json"), os.path.join(TOKENIZER, "merges.txt"),
                              pad_token="!" if args.sd21 else "<|endoftext|>", model_max_length=77)
    scheduler_config = SD21_SCHEDULER if args.sd21 else SD15_SCHEDULER
    scheduler = PNDMScheduler.from_config({k: v for k, v in SD15_SCHEDULER.items() if k != "clip_sample"})
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(args.out, safe_serialization=True)
    with open(os.path.join(args.out, "scheduler", "scheduler_config.json"), "w") as f:
        json.dump(scheduler_config, f, indent=2, sort_keys=True)
    tok = os.path.join(args.out, "tokenizer")
    for f in os.listdir(tok):
        if f not in ("tokenizer_config.json", "special_tokens_map.json"):
            os.remove(os.path.join(tok, f))
    for f in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(TOKENIZER, f), tok)
    g = torch.Generator().manual_seed(1)
    save_file({"sample": torch.randn(2, 4, 16, 16, generator=g),
               "encoder_hidden_states": torch.randn(2, 77, unet.config.cross_attention_dim, generator=g),
               "timesteps": torch.tensor([500.0, 500.0])},
              os.path.join(args.out, "unet", "bench_inputs.safetensors"))
    count = sum(p.numel() for m in (unet, vae, text) for p in m.parameters())
    print(f"SD {'2.1' if args.sd21 else '1.5'}-architecture pipeline, {count / 1e6:.0f} M parameters, written to {args.out}")


if __name__ == "__main__":
    main()
