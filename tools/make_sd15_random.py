#!/usr/bin/env python3
"""Writes a random-initialised SD 1.5-architecture UNet and VAE (diffusers defaults for SD 1.5)
for the `unet` benchmark, plus fixed benchmark inputs. About 3.4 GB: keep it outside git.

  python3 tools/make_sd15_random.py --out /var/tmp/sd/sd15
"""
import argparse
import os

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from safetensors.torch import save_file

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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.manual_seed(0)
    unet = UNet2DConditionModel(**SD15_UNET)
    unet.save_pretrained(os.path.join(args.out, "unet"))
    vae = AutoencoderKL(**SD15_VAE)
    vae.save_pretrained(os.path.join(args.out, "vae"))
    g = torch.Generator().manual_seed(1)
    save_file({"sample": torch.randn(2, 4, 16, 16, generator=g),
               "encoder_hidden_states": torch.randn(2, 77, 768, generator=g),
               "timesteps": torch.tensor([500.0, 500.0])},
              os.path.join(args.out, "unet", "bench_inputs.safetensors"))
    print(f"UNet {sum(p.numel() for p in unet.parameters()) / 1e6:.0f} M parameters written to {args.out}")


if __name__ == "__main__":
    main()
