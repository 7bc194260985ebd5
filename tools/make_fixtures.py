#!/usr/bin/env python3
"""Regenerates the parity fixtures under Tests/Fixtures/ from diffusers (one command).

For each tiny, seeded, random-initialised model variant it writes
  Tests/Fixtures/<variant>/config.json
  Tests/Fixtures/<variant>/diffusion_pytorch_model.safetensors   (F32, or F16 for *_f16)
  Tests/Fixtures/<variant>/io.safetensors                        (inputs and diffusers outputs)
Tensors in io.safetensors are in PyTorch layout (NCHW); the Swift tests permute them.
Norm weights and biases are randomised too, so a swapped or ignored affine parameter shows.

  python3 tools/make_fixtures.py            # everything
  python3 tools/make_fixtures.py --only unet_conv_int
"""
import argparse
import json
import os
import shutil

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from safetensors.torch import save_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures")

UNETS = {
    # attention_head_dim as int, conv projection, 1 layer per block, cross-attn mid block.
    "unet_conv_int": dict(
        sample_size=16, in_channels=4, out_channels=4, block_out_channels=(32, 64),
        layers_per_block=1, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=24,
        attention_head_dim=4, norm_num_groups=8, use_linear_projection=False),
    # attention_head_dim as list, linear projection, 2 layers per block, 2 transformer layers,
    # three blocks, fp16 weights, flip_sin_to_cos False and freq_shift 1.
    "unet_linear_list_f16": dict(
        sample_size=16, in_channels=4, out_channels=4, block_out_channels=(16, 32, 32),
        layers_per_block=2, transformer_layers_per_block=(1, 2, 1),
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=20, attention_head_dim=(2, 4, 4), norm_num_groups=8,
        use_linear_projection=True, flip_sin_to_cos=False, freq_shift=1, norm_eps=1e-6),
}

VAES = {
    "vae_attention": dict(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(16, 32, 32),
        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
        layers_per_block=1, norm_num_groups=8, sample_size=32, scaling_factor=0.5),
    "vae_plain_f16": dict(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(16, 32, 32),
        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
        layers_per_block=2, norm_num_groups=8, sample_size=32, mid_block_add_attention=False,
        use_quant_conv=False, scaling_factor=0.7, shift_factor=0.1),
}


def randomise_norms(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                base = 1.0 if name.endswith("weight") else 0.0
                p.copy_(base + 0.2 * torch.randn(p.shape, generator=g))


def save_model(model, folder, half):
    os.makedirs(folder, exist_ok=True)
    if half:
        model.half()
    model.save_pretrained(folder, safe_serialization=True)
    model.float()  # the reference runs in fp32 on the fp16-rounded weights


def make_unet(name, cfg):
    torch.manual_seed(1)
    model = UNet2DConditionModel(**cfg).eval()
    randomise_norms(model, 2)
    folder = os.path.join(ROOT, name)
    save_model(model, folder, name.endswith("_f16"))
    g = torch.Generator().manual_seed(3)
    sample = torch.randn(2, cfg["in_channels"], 16, 16, generator=g)
    context = torch.randn(2, 7, cfg["cross_attention_dim"], generator=g)
    io = {"sample": sample, "encoder_hidden_states": context}
    with torch.no_grad():
        for t in (981, 1):
            io[f"output_t{t}"] = model(sample, torch.tensor([t, t]), context).sample
    save_file({k: v.contiguous() for k, v in io.items()}, os.path.join(folder, "io.safetensors"))


def make_vae(name, cfg):
    torch.manual_seed(4)
    model = AutoencoderKL(**cfg).eval()
    randomise_norms(model, 5)
    folder = os.path.join(ROOT, name)
    save_model(model, folder, name.endswith("_f16"))
    g = torch.Generator().manual_seed(6)
    image = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
    latent = torch.randn(2, cfg["latent_channels"], 8, 8, generator=g)
    with torch.no_grad():
        dist = model.encode(image).latent_dist
        decoded = model.decode(latent).sample
    io = {"image": image, "mean": dist.mean, "logvar": dist.logvar, "latent": latent, "decoded": decoded}
    save_file({k: v.contiguous() for k, v in io.items()}, os.path.join(folder, "io.safetensors"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="one variant name")
    args = ap.parse_args()
    torch.set_num_threads(1)
    for name, cfg in UNETS.items():
        if args.only in (None, name):
            make_unet(name, cfg)
    for name, cfg in VAES.items():
        if args.only in (None, name):
            make_vae(name, cfg)
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(ROOT) for f in fs)
    print(f"fixtures: {total / 1e6:.2f} MB under {os.path.normpath(ROOT)}")


if __name__ == "__main__":
    main()
