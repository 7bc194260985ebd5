#!/usr/bin/env python3
"""Regenerates the parity fixtures under Tests/Fixtures/ from diffusers (one command).

For each tiny, seeded, random-initialised model variant it writes
  Tests/Fixtures/<variant>/config.json
  Tests/Fixtures/<variant>/diffusion_pytorch_model.safetensors   (F32, or F16 for *_f16)
  Tests/Fixtures/<variant>/io.safetensors                        (inputs and diffusers outputs)
Tensors in io.safetensors are in PyTorch layout (NCHW); the Swift tests permute them.
Norm weights and biases are randomised too, so a swapped or ignored affine parameter shows.

  python3 tools/make_fixtures.py            # everything
  python3 tools/make_fixtures.py --only unet_conv_int   (or clip_text, pipeline, sd, ip_adapter, lcm, lora, default_model, rng, schedulers)
"""
import argparse
import json
import os
import shutil

import torch
from diffusers import (AutoencoderKL, AutoencoderTiny, DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler,
                       EulerDiscreteScheduler, LCMScheduler, LatentConsistencyModelPipeline, PNDMScheduler, TCDScheduler,
                       UNet2DConditionModel)
from safetensors.torch import save_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures")

UNETS = {
    # attention_head_dim as int, conv projection, 1 layer per block, cross-attn mid block.
    "unet_conv_int": dict(
        sample_size=16, in_channels=4, out_channels=4, block_out_channels=(24, 48),
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
    # An LCM-distilled UNet's guidance embedding: time_embedding.cond_proj (time_cond_proj_dim).
    "unet_time_cond": dict(
        sample_size=16, in_channels=4, out_channels=4, block_out_channels=(24, 48),
        layers_per_block=1, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=24,
        attention_head_dim=4, norm_num_groups=8, time_cond_proj_dim=20),
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


def seeded_model(cls, name, cfg, seed):
    """A model built after torch.manual_seed(seed), norms randomised with seed + 1, saved under
    ROOT/name (fp16 for *_f16): (model, folder)."""
    torch.manual_seed(seed)
    model = cls(**cfg).eval()
    randomise_norms(model, seed + 1)
    folder = os.path.join(ROOT, name)
    save_model(model, folder, name.endswith("_f16"))
    return model, folder


def make_unet(name, cfg):
    model, folder = seeded_model(UNet2DConditionModel, name, cfg, 1)
    g = torch.Generator().manual_seed(3)
    sample = torch.randn(2, cfg["in_channels"], 16, 16, generator=g)
    context = torch.randn(2, 7, cfg["cross_attention_dim"], generator=g)
    io = {"sample": sample, "encoder_hidden_states": context}
    with torch.no_grad():
        for t in (981, 1):
            io[f"output_t{t}"] = model(sample, torch.tensor([t, t]), context).sample
        if cfg.get("time_cond_proj_dim"):
            # The LCM pipelines' w embedding of guidance scales 8.5 and 2 (w = guidance - 1).
            w = torch.tensor([7.5, 1.0])
            cond = LatentConsistencyModelPipeline.get_guidance_scale_embedding(None, w, embedding_dim=cfg["time_cond_proj_dim"])
            io["guidance_w"] = w
            io["timestep_cond"] = cond
            for t in (981, 1):
                io[f"output_cond_t{t}"] = model(sample, torch.tensor([t, t]), context, timestep_cond=cond).sample
    save_file({k: v.contiguous() for k, v in io.items()}, os.path.join(folder, "io.safetensors"))


def make_vae(name, cfg):
    model, folder = seeded_model(AutoencoderKL, name, cfg, 4)
    g = torch.Generator().manual_seed(6)
    image = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
    latent = torch.randn(2, cfg["latent_channels"], 8, 8, generator=g)
    with torch.no_grad():
        dist = model.encode(image).latent_dist
        decoded = model.decode(latent).sample
        sampled = dist.sample(generator=torch.Generator("cpu").manual_seed(7))
    io = {"image": image, "mean": dist.mean, "logvar": dist.logvar, "latent": latent, "decoded": decoded,
          "sample_seed7": sampled}
    save_file({k: v.contiguous() for k, v in io.items()}, os.path.join(folder, "io.safetensors"))


def make_vae_tiny():
    """An AutoencoderTiny (TAESD's design) with narrow widths: decode of latents wide enough to
    reach the tanh clamp; the encoder is saved too (a real TAESD folder has it; Swift skips it)."""
    cfg = dict(in_channels=3, out_channels=3, latent_channels=4, encoder_block_out_channels=(8, 8, 8),
               decoder_block_out_channels=(8, 8, 8), num_encoder_blocks=(1, 1, 1), num_decoder_blocks=(1, 2, 1))
    model, folder = seeded_model(AutoencoderTiny, "vae_tiny", cfg, 8)
    g = torch.Generator().manual_seed(9)
    latent = torch.randn(2, 4, 8, 8, generator=g) * 3
    with torch.no_grad():
        decoded = model.decode(latent).sample
    save_file({"latent": latent.contiguous(), "decoded": decoded.contiguous()}, os.path.join(folder, "io.safetensors"))


def make_clip():
    """A tiny random CLIPTextModel (quick_gelu) and its last_hidden_state for two id rows."""
    from transformers import CLIPTextConfig, CLIPTextModel
    torch.manual_seed(8)
    cfg = CLIPTextConfig(vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=16, hidden_act="quick_gelu",
                         pad_token_id=0, bos_token_id=1, eos_token_id=2)
    model = CLIPTextModel(cfg).eval()
    randomise_norms(model, 9)
    folder = os.path.join(ROOT, "clip_text")
    model.save_pretrained(folder, safe_serialization=True)
    ids = torch.tensor([[1, 5, 17, 99, 2, 0, 0, 0, 0, 0, 0, 0], [1, 42, 43, 44, 45, 46, 47, 2, 0, 0, 0, 0]])
    with torch.no_grad():
        out = model(input_ids=ids).last_hidden_state
    save_file({"input_ids": ids.to(torch.float32), "last_hidden_state": out.contiguous()},
              os.path.join(folder, "io.safetensors"))


def make_pipeline():
    """A tiny random model in the default layout (tools/stylediff_model.py export_models) and reference
    sampler outputs (tools/sample.py) for txt2img, image style, slerp blend and img2img."""
    import sys
    import tempfile
    import numpy as np
    import sentencepiece as spm
    from PIL import Image
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import sample
    import stylediff_model
    folder = os.path.join(ROOT, "pipeline")
    model_dir = os.path.join(folder, "model")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    corpus = os.path.join(ROOT, "..", "TextTokenizerTests", "Fixtures", "corpus.txt")
    with tempfile.TemporaryDirectory() as tmp:
        spm.set_random_generator_seed(0)
        spm.SentencePieceTrainer.train(input=corpus, model_prefix=os.path.join(tmp, "tok"), vocab_size=120,
                                       model_type="unigram", character_coverage=1.0, pad_id=0, unk_id=1, bos_id=-1,
                                       eos_id=2, normalization_rule_name="identity", num_threads=1, minloglevel=2)
        torch.manual_seed(10)
        models = stylediff_model.Models(
            120,
            unet_config=dict(sample_size=16, in_channels=4, out_channels=4, block_out_channels=(16, 32), layers_per_block=1,
                             down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                             up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=32,
                             attention_head_dim=4, norm_num_groups=8),
            text_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                             max_position_embeddings=12, hidden_act="quick_gelu", pad_token_id=0, bos_token_id=2,
                             eos_token_id=2),
            style_config=dict(channels=[8, 16], groups=4, embed_dim=32, tokens=4, cross_attention_dim=32)).eval()
        randomise_norms(models, 11)
        with torch.no_grad():  # the IP projections start at zero in diffusers; make them matter
            for p in models.unet.attn_processors.values():
                if hasattr(p, "to_k_ip"):
                    p.to_k_ip[0].weight.normal_(0, 0.2); p.to_v_ip[0].weight.normal_(0, 0.2)
        vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 16, 16),
                            down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
                            layers_per_block=1, norm_num_groups=4, sample_size=64, scaling_factor=0.8).eval()
        randomise_norms(vae, 12)
        stylediff_model.export_models(models, vae, os.path.join(tmp, "tok.model"), model_dir, ["breeze", "papirus", "tango"])
    g = torch.Generator().manual_seed(13)
    inputs = {}
    for name in ("style_a", "style_b", "init"):
        arr = (torch.rand(64, 64, 3, generator=g) * 255).round().to(torch.uint8).numpy()
        Image.fromarray(arr).save(os.path.join(folder, name + ".png"))
        inputs[name] = Image.open(os.path.join(folder, name + ".png"))
    pipe = sample.ReferencePipeline(model_dir)
    cases = {
        "txt2img": dict(prompt="folder icon, papirus style", seed=1),
        "image_style": dict(prompt="folder icon", style_images=["style_a"], style_strength=0.8, seed=2),
        "blend_slerp": dict(prompt="heart emoji", style_images=["style_a", "style_b"], style_weights=[1.0, 3.0],
                            blend="slerp", seed=3),
        "blend_linear_dpmpp": dict(prompt="star", style_images=["style_a", "style_b"], style_weights=[2.0, 1.0],
                                   scheduler="dpmpp", seed=6),
        "img2img": dict(prompt="folder icon, breeze style", init_image="init", strength=0.6, seed=4),
        "img2img_style_euler": dict(prompt="icon", negative="blurry", style_images=["style_b"], init_image="init",
                                    strength=0.5, scheduler="euler", guidance=3.0, seed=5),
        "ddpm": dict(prompt="folder icon, tango style", scheduler="ddpm", seed=7),
        "ddim_eta": dict(prompt="folder icon, tango style", scheduler="ddim", eta=0.5, seed=8),
    }
    tensors = {}
    for name, c in cases.items():
        kw = dict(c)
        kw["style_images"] = [inputs[k] for k in c.get("style_images", [])]
        if "init_image" in c:
            kw["init_image"] = inputs[c["init_image"]]
        image, latents = pipe(**kw, return_latents=True)
        image.save(os.path.join(folder, name + ".png"))
        tensors[name + "_latents"] = latents.contiguous()
    save_file(tensors, os.path.join(folder, "latents.safetensors"))
    with open(os.path.join(folder, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1, sort_keys=True)


SD_FOLDERS = {
    # SD 1.x shape: quick_gelu text encoder, int attention_head_dim, conv projections, PNDM
    # (PLMS) scheduler as stable-diffusion-v1-5 names it, pad <|endoftext|>; fp16 text encoder
    # and VAE variants beside an fp32 UNet.
    "sd15_tiny": dict(
        text=dict(hidden_act="quick_gelu"), pad="<|endoftext|>", half=("text_encoder", "vae"),
        unet=dict(sample_size=16, attention_head_dim=4, use_linear_projection=False),
        scheduler=("PNDMScheduler", dict(skip_prk_steps=True, set_alpha_to_one=False, steps_offset=1))),
    # SD 2.x 768-v shape: gelu text encoder, per-block head dims, linear projections,
    # upcast_attention, a v-prediction DDIM scheduler, pad "!"; a non-square-friendly default of
    # 96 px (sample_size 24 x VAE factor 4).
    "sd2_tiny_v": dict(
        text=dict(hidden_act="gelu"), pad="!", half=("text_encoder", "unet"),
        unet=dict(sample_size=24, attention_head_dim=(2, 4), use_linear_projection=True, upcast_attention=True),
        scheduler=("DDIMScheduler", dict(prediction_type="v_prediction", set_alpha_to_one=False, steps_offset=1,
                                         clip_sample=False))),
}

# (folder, case name, pipeline kind, scheduler class or None for the folder's, settings)
SD_CASES = [
    ("sd15_tiny", "txt2img_pndm", "txt2img", None,
     dict(prompt="a photo of an astronaut riding a horse on mars", negative="blurry, lowres", width=96, height=64,
          steps=6, guidance=7.5, seed=1)),
    ("sd15_tiny", "txt2img_ddim_default_size", "txt2img", "ddim", dict(prompt="a red heart", steps=5, guidance=6.0, seed=2)),
    ("sd15_tiny", "txt2img_euler", "txt2img", "euler",
     dict(prompt="oil painting of a cat, by van gogh", width=64, height=96, steps=5, guidance=7.5, seed=3)),
    ("sd15_tiny", "txt2img_clip_skip2", "txt2img", None,
     dict(prompt="watercolor portrait, highly detailed", width=96, height=64, steps=4, guidance=7.5, seed=4, clip_skip=2)),
    ("sd15_tiny", "img2img_pndm", "img2img", None,
     dict(prompt="a cat, oil painting", init_image="sd_photo", strength=0.6, steps=8, guidance=7.5, seed=5, width=96, height=64)),
    ("sd15_tiny", "img2img_euler", "img2img", "euler",
     dict(prompt="a cat, watercolor", init_image="sd_photo", strength=0.5, steps=6, guidance=5.0, seed=6, width=96, height=64)),
    ("sd15_tiny", "img2img_ddim", "img2img", "ddim",
     dict(prompt="a cat", negative="ugly", init_image="sd_photo", strength=0.75, steps=4, guidance=7.5, seed=7, width=96, height=64)),
    ("sd2_tiny_v", "txt2img_ddim_v", "txt2img", None,
     dict(prompt="a castle on a hill at sunset!", width=64, height=96, steps=5, guidance=7.5, seed=8)),
    ("sd2_tiny_v", "txt2img_euler_v_default_size", "txt2img", "euler", dict(prompt="a lighthouse", steps=4, guidance=9.0, seed=9)),
    ("sd2_tiny_v", "txt2img_pndm_v", "txt2img", "pndm",
     dict(prompt="a forest path", negative="text", width=64, height=96, steps=5, guidance=7.5, seed=10)),
    ("sd2_tiny_v", "img2img_ddim_v", "img2img", None,
     dict(prompt="a cat in space", init_image="sd_photo", strength=0.8, steps=5, guidance=7.5, seed=11, width=96, height=64)),
]


def make_sd_pipelines():
    """Tiny random diffusers StableDiffusionPipeline folders (SD 1.x and SD 2.x v-prediction
    shapes) with the real CLIP vocabulary (vocab.json and merges.txt link to ../../clip_tokenizer,
    as files in a Hugging Face cache snapshot link to its blobs), and diffusers' own
    StableDiffusionPipeline / StableDiffusionImg2ImgPipeline outputs (final latents and [0, 1]
    pixels) for txt2img and img2img with DDIM, Euler and PNDM at 64x96, 96x64 and the default size."""
    import numpy as np
    from PIL import Image
    from diffusers import StableDiffusionImg2ImgPipeline, StableDiffusionPipeline
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer
    tokenizer_fixture = os.path.join(ROOT, "clip_tokenizer")
    classes = {"ddim": DDIMScheduler, "euler": EulerDiscreteScheduler, "pndm": PNDMScheduler}
    g = torch.Generator().manual_seed(40)
    photo_path = os.path.join(ROOT, "sd_photo.png")
    # A smooth "photo" (gradients and a disc), 96x64: img2img input at the output size.
    yy, xx = np.mgrid[0:64, 0:96].astype(np.float32)
    disc = ((xx - 60) ** 2 + (yy - 30) ** 2 < 300).astype(np.float32)
    arr = np.stack([xx / 95 * 200 + 30 * disc, yy / 63 * 180 + 60 * disc, 120 + 80 * disc - xx / 3], -1)
    arr = arr + (torch.rand(64, 96, 3, generator=g).numpy() * 20)
    Image.fromarray(np.clip(arr, 0, 255).round().astype(np.uint8)).save(photo_path)
    pipes = {}
    for name, spec in SD_FOLDERS.items():
        folder = os.path.join(ROOT, name)
        shutil.rmtree(folder, ignore_errors=True)
        torch.manual_seed(41)
        text = CLIPTextModel(CLIPTextConfig(vocab_size=49408, hidden_size=16, intermediate_size=32, num_hidden_layers=3,
                                            num_attention_heads=2, max_position_embeddings=77, pad_token_id=1,
                                            bos_token_id=49406, eos_token_id=49407, projection_dim=16,
                                            **spec["text"])).eval()
        randomise_norms(text, 42)
        # diffusers' clip_skip path reads text_encoder.text_model.final_layer_norm, which
        # transformers 5 flattened into the model itself.
        text.__dict__["text_model"] = text
        unet = UNet2DConditionModel(in_channels=4, out_channels=4, block_out_channels=(32, 64), layers_per_block=1,
                                    down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=16,
                                    norm_num_groups=16, **spec["unet"]).eval()
        randomise_norms(unet, 43)
        vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(16, 32, 32),
                            down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
                            layers_per_block=1, norm_num_groups=8, sample_size=64, scaling_factor=0.18215).eval()
        randomise_norms(vae, 44)
        scheduler_class, scheduler_args = spec["scheduler"]
        scheduler = dict(DDIMScheduler=DDIMScheduler, PNDMScheduler=PNDMScheduler)[scheduler_class](
            num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", **scheduler_args)
        tokenizer = CLIPTokenizer(os.path.join(tokenizer_fixture, "vocab.json"), os.path.join(tokenizer_fixture, "merges.txt"),
                                  pad_token=spec["pad"], model_max_length=77)
        pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
                                       safety_checker=None, feature_extractor=None, requires_safety_checker=False)
        pipe.save_pretrained(folder, safe_serialization=True)
        for component in spec["half"]:  # replace by the fp16 variant only, as fp16-only downloads have
            module = getattr(pipe, component)
            for f in os.listdir(os.path.join(folder, component)):
                if f.endswith(".safetensors"):
                    os.remove(os.path.join(folder, component, f))
            module.half().save_pretrained(os.path.join(folder, component), safe_serialization=True, variant="fp16")
            module.float()  # the reference runs in fp32 on the fp16-rounded weights
        tok = os.path.join(folder, "tokenizer")
        for f in os.listdir(tok):
            if f not in ("tokenizer_config.json", "special_tokens_map.json"):
                os.remove(os.path.join(tok, f))
        for f in ("vocab.json", "merges.txt"):
            os.symlink(os.path.join("..", "..", "clip_tokenizer", f), os.path.join(tok, f))
        # special_tokens_map.json as the hub folders have it (SD 1.5: token objects; SD 2.1: strings).
        def token(content):
            return content if spec["pad"] == "!" else dict(content=content, lstrip=False, normalized=True, rstrip=False,
                                                           single_word=False)
        with open(os.path.join(tok, "special_tokens_map.json"), "w") as f:
            json.dump(dict(bos_token=token("<|startoftext|>"), eos_token=token("<|endoftext|>"), pad_token=token(spec["pad"]),
                           unk_token=token("<|endoftext|>")), f, indent=2)
        # The scheduler_config.json of the hub folders as they are (stable-diffusion-v1-5 and
        # stable-diffusion-2-1, written by old diffusers): no timestep_spacing, so each scheduler
        # class takes its own default, and options of other classes (PNDM's clip_sample).
        extra = dict(clip_sample=False) if scheduler_class == "PNDMScheduler" else dict(skip_prk_steps=True)
        config = dict(_class_name=scheduler_class, _diffusers_version="0.8.0", num_train_timesteps=1000, beta_start=0.00085,
                      beta_end=0.012, beta_schedule="scaled_linear", trained_betas=None, **scheduler_args, **extra)
        with open(os.path.join(folder, "scheduler", "scheduler_config.json"), "w") as f:
            json.dump(config, f, indent=2, sort_keys=True)
        # What a hub download also has, which stylediff ignores (and says so).
        with open(os.path.join(folder, "model_index.json")) as f:
            index = json.load(f)
        index["safety_checker"] = ["stable_diffusion", "StableDiffusionSafetyChecker"]
        index["feature_extractor"] = ["transformers", "CLIPImageProcessor"]
        with open(os.path.join(folder, "model_index.json"), "w") as f:
            json.dump(index, f, indent=2, sort_keys=True)
        os.makedirs(os.path.join(folder, "feature_extractor"))
        with open(os.path.join(folder, "feature_extractor", "preprocessor_config.json"), "w") as f:
            json.dump({"crop_size": 224, "do_center_crop": True, "do_normalize": True, "do_resize": True,
                       "image_processor_type": "CLIPImageProcessor", "size": 224}, f, indent=2)
        pipes[name] = pipe
    tensors, cases = {}, {}
    for name, pipe in pipes.items():  # components alone: the text encoder (and clip skip), the UNet, the VAE
        prompts = ["a photo of an astronaut riding a horse on mars", ""]
        ids = pipe.tokenizer(prompts, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
        with torch.no_grad():
            out = pipe.text_encoder(ids, output_hidden_states=True)
            skipped = pipe.text_encoder.final_layer_norm(out.hidden_states[-2])
            g = torch.Generator().manual_seed(45)
            sample = torch.randn(2, 4, 16, 24, generator=g)
            unet_out = pipe.unet(sample, torch.tensor([901, 901]), out.last_hidden_state).sample
            decoded = pipe.vae.decode(sample[:1]).sample
        tensors.update({f"{name}/input_ids": ids.to(torch.float32), f"{name}/text": out.last_hidden_state,
                        f"{name}/text_clip_skip2": skipped, f"{name}/unet_sample": sample, f"{name}/unet_output": unet_out,
                        f"{name}/vae_decoded": decoded})
    photo = Image.open(photo_path).convert("RGB")
    for folder, case, kind, scheduler_name, settings in SD_CASES:
        pipe = pipes[folder]
        # As a user swaps schedulers: the folder's file, through from_config for another class.
        saved = pipe.scheduler.__class__.from_pretrained(os.path.join(ROOT, folder), subfolder="scheduler")
        scheduler = classes[scheduler_name].from_config(saved.config) if scheduler_name else saved
        common = dict(num_inference_steps=settings["steps"], guidance_scale=settings["guidance"],
                      generator=torch.Generator("cpu").manual_seed(settings["seed"]), output_type="latent")
        if "clip_skip" in settings:
            # AUTOMATIC1111's clip skip N: hidden state N - 1 layers before the last, then the final
            # layer norm, for the prompt and the negative prompt alike (diffusers' clip_skip = N - 1
            # applies to the prompt only), so the embeddings go in ready-made.
            def embed(text):
                ids = pipe.tokenizer(text, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
                with torch.no_grad():
                    hidden = pipe.text_encoder(ids, output_hidden_states=True).hidden_states[-settings["clip_skip"]]
                    return pipe.text_encoder.final_layer_norm(hidden)
            common.update(prompt_embeds=embed(settings["prompt"]), negative_prompt_embeds=embed(settings.get("negative") or ""))
        else:
            common.update(prompt=settings["prompt"], negative_prompt=settings.get("negative"))
        components = dict(pipe.components, scheduler=scheduler)
        with torch.no_grad():
            if kind == "txt2img":
                p = StableDiffusionPipeline(**components)
                latents = p(height=settings.get("height"), width=settings.get("width"), **common).images
            else:
                p = StableDiffusionImg2ImgPipeline(**components)
                latents = p(image=photo, strength=settings["strength"], **common).images
            pixels = (pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample / 2 + 0.5).clamp(0, 1)
        key = f"{folder}/{case}"
        tensors[key + "/latents"] = latents
        tensors[key + "/pixels"] = pixels
        cases[key] = dict(settings, scheduler=scheduler_name, folder=folder, kind=kind)
        print(f"{key}: latents {tuple(latents.shape)}")
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(ROOT, "sd_outputs.safetensors"))
    with open(os.path.join(ROOT, "sd_cases.json"), "w") as f:
        json.dump(cases, f, indent=1, sort_keys=True)


# IP-Adapter cases on sd15_tiny: (case name, pipeline kind, scale (number or per-block dict), settings)
IP_CASES = [
    ("ip_txt2img", "txt2img", 0.8, dict(prompt="a cat", width=96, height=64, steps=4, guidance=7.5, seed=21)),
    ("ip_img2img_euler", "img2img", 1.0, dict(prompt="a cat, painting", init_image="sd_photo", strength=0.6, steps=5,
                                             guidance=6.0, seed=22, scheduler="euler", width=96, height=64)),
    ("ip_style_blocks", "txt2img", {"up": {"block_1": [0.0, 1.0]}},
     dict(prompt="a house", width=64, height=64, steps=4, guidance=7.5, seed=23)),
]


LCM_CASES = [
    # (case, folder, kind, settings)
    ("txt2img", "lcm_tiny", "lcm_txt2img", dict(prompt="a photo of an astronaut riding a horse", width=96, height=64,
                                                steps=4, guidance=8.0, seed=12, scheduler="lcm")),
    ("txt2img_2steps_default_size", "lcm_tiny", "lcm_txt2img", dict(prompt="a red heart", steps=2, guidance=1.5, seed=13,
                                                                    scheduler="lcm")),
    ("img2img", "lcm_tiny", "lcm_img2img", dict(prompt="a cat, oil painting", init_image="sd_photo", strength=0.6, steps=4,
                                                guidance=8.0, seed=14, width=96, height=64, scheduler="lcm")),
    # LCM-LoRA's way: a plain SD folder with LCMScheduler at guidance 1 (no unconditional pass).
    ("sd15_lcm_guidance1", "sd15_tiny", "txt2img", dict(prompt="a cat", width=96, height=64, steps=4, guidance=1.0, seed=15,
                                                        scheduler="lcm")),
]


def make_lcm():
    """An LCM-distilled pipeline folder in LCM-Dreamshaper's layout (LatentConsistencyModelPipeline,
    LCMScheduler, a UNet with time_cond_proj_dim, fp16) sharing sd15_tiny's tokenizer, text encoder
    and VAE through symlinks, and diffusers' outputs: LatentConsistencyModelPipeline and its
    img2img twin, and StableDiffusionPipeline with LCMScheduler at guidance 1 on sd15_tiny (how
    LCM-LoRA runs). Needs the sd fixtures."""
    from PIL import Image
    from diffusers import LatentConsistencyModelImg2ImgPipeline, StableDiffusionPipeline
    from transformers import CLIPTextModel, CLIPTokenizer
    base = os.path.join(ROOT, "sd15_tiny")
    folder = os.path.join(ROOT, "lcm_tiny")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    text = CLIPTextModel.from_pretrained(os.path.join(base, "text_encoder"), variant="fp16", torch_dtype=torch.float32).eval()
    vae = AutoencoderKL.from_pretrained(os.path.join(base, "vae"), variant="fp16", torch_dtype=torch.float32).eval()
    base_unet = UNet2DConditionModel.from_pretrained(os.path.join(base, "unet")).eval()
    tokenizer = CLIPTokenizer.from_pretrained(os.path.join(base, "tokenizer"))
    cfg = {k: v for k, v in base_unet.config.items() if not k.startswith("_")}
    cfg["time_cond_proj_dim"] = 32
    torch.manual_seed(46)
    unet = UNet2DConditionModel(**cfg).eval()
    randomise_norms(unet, 47)
    unet.half()
    unet.float()  # fp16-rounded weights, saved as fp16 below
    scheduler = LCMScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                             set_alpha_to_one=True, original_inference_steps=50, timestep_scaling=10.0)
    pipe = LatentConsistencyModelPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
                                          safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    os.makedirs(os.path.join(folder, "unet"))
    unet.half().save_pretrained(os.path.join(folder, "unet"), safe_serialization=True)
    unet.float()
    scheduler.save_pretrained(os.path.join(folder, "scheduler"))
    index = dict(_class_name="LatentConsistencyModelPipeline", _diffusers_version="0.22.0.dev0",
                 feature_extractor=["transformers", "CLIPImageProcessor"], requires_safety_checker=True,
                 safety_checker=["stable_diffusion", "StableDiffusionSafetyChecker"], scheduler=["diffusers", "LCMScheduler"],
                 text_encoder=["transformers", "CLIPTextModel"], tokenizer=["transformers", "CLIPTokenizer"],
                 unet=["diffusers", "UNet2DConditionModel"], vae=["diffusers", "AutoencoderKL"])
    with open(os.path.join(folder, "model_index.json"), "w") as f:
        json.dump(index, f, indent=2, sort_keys=True)
    for part in ("tokenizer", "text_encoder", "vae", "feature_extractor"):
        os.symlink(os.path.join("..", "sd15_tiny", part), os.path.join(folder, part))
    sd = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=base_unet,
                                 scheduler=LCMScheduler.from_config(scheduler.config), safety_checker=None,
                                 feature_extractor=None, requires_safety_checker=False)
    photo = Image.open(os.path.join(ROOT, "sd_photo.png")).convert("RGB")
    tensors, cases = {}, {}
    for case, name, kind, s in LCM_CASES:
        common = dict(prompt=s["prompt"], num_inference_steps=s["steps"], guidance_scale=s["guidance"],
                      generator=torch.Generator("cpu").manual_seed(s["seed"]), output_type="latent")
        with torch.no_grad():
            if kind == "lcm_txt2img":
                latents = pipe(height=s.get("height"), width=s.get("width"), **common).images
            elif kind == "lcm_img2img":
                latents = LatentConsistencyModelImg2ImgPipeline(**pipe.components)(image=photo, strength=s["strength"], **common).images
            else:
                latents = sd(height=s.get("height"), width=s.get("width"), **common).images
            pixels = (vae.decode(latents / vae.config.scaling_factor).sample / 2 + 0.5).clamp(0, 1)
        key = f"{name}/{case}"
        tensors[key + "/latents"] = latents.contiguous()
        tensors[key + "/pixels"] = pixels.contiguous()
        cases[key] = dict(s, folder=name, kind=kind)
    save_file(tensors, os.path.join(ROOT, "lcm_outputs.safetensors"))
    with open(os.path.join(ROOT, "lcm_cases.json"), "w") as f:
        json.dump(cases, f, indent=1, sort_keys=True)


def make_lora():
    """LoRA files for sd15_tiny in the layouts stylediff reads, and diffusers' outputs after
    load_lora_weights + fuse_lora:
    - lora_peft.safetensors: PEFT adapters as training scripts save them (lora_A / lora_B; UNet
      attention, proj_in, feed-forward and 3x3 conv1 at r 4 / alpha 8 from the adapter metadata,
      text encoder q/v/fc1 at r 2 / alpha 4);
    - lora_diffusers.safetensors: the older diffusers layout (convert_state_dict_to_diffusers of
      an attention-only adapter: lora.down / lora.up, text encoder lora_linear_layer), no alphas;
    - lora_kohya.safetensors: kohya names with per-module alphas (linear, 1x1 and 3x3 conv
      targets, text encoder out_proj and fc2; the text encoder's at one rank and alpha, since
      diffusers 0.42 swaps per-module text-encoder alphas of different ranks).
    Every run checks that diffusers loaded each file's factors and alpha / rank as written.
    Outputs: the text encoder's last hidden state and the UNet's noise prediction (on diffusers'
    own hidden states) per run. Needs the sd fixtures."""
    from diffusers import StableDiffusionPipeline
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict
    from diffusers.utils import convert_state_dict_to_diffusers
    from transformers import CLIPTextModel, CLIPTokenizer
    base = os.path.join(ROOT, "sd15_tiny")
    folder = os.path.join(ROOT, "lora")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)

    def components():
        text = CLIPTextModel.from_pretrained(os.path.join(base, "text_encoder"), variant="fp16", torch_dtype=torch.float32).eval()
        unet = UNet2DConditionModel.from_pretrained(os.path.join(base, "unet")).eval()
        return text, unet

    # name -> {(component, module): (down, up, alpha / rank)} as the file means it
    expected = {}
    torch.manual_seed(50)
    text, unet = components()
    unet_config = LoraConfig(r=4, lora_alpha=8, init_lora_weights=False,
                             target_modules=["to_q", "to_k", "to_v", "to_out.0", "proj_in", "ff.net.2", "conv1"])
    text_config = LoraConfig(r=2, lora_alpha=4, init_lora_weights=False, target_modules=["q_proj", "v_proj", "fc1"])
    unet.add_adapter(unet_config)
    text.add_adapter(text_config)
    unet_sd, text_sd = get_peft_model_state_dict(unet), get_peft_model_state_dict(text)
    StableDiffusionPipeline.save_lora_weights(
        folder, unet_lora_layers=unet_sd, text_encoder_lora_layers=text_sd, weight_name="lora_peft.safetensors",
        unet_lora_adapter_metadata=unet_config.to_dict(), text_encoder_lora_adapter_metadata=text_config.to_dict(),
        safe_serialization=True)
    expected["lora_peft.safetensors"] = {
        (c, k[:-len(".lora_A.weight")]): (sd[k], sd[k.replace("lora_A", "lora_B")], ratio)
        for c, sd, ratio in (("unet", unet_sd, 2.0), ("text", text_sd, 2.0)) for k in sd if k.endswith(".lora_A.weight")}

    torch.manual_seed(53)
    text, unet = components()
    unet.add_adapter(LoraConfig(r=3, lora_alpha=3, init_lora_weights=False, target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    text.add_adapter(LoraConfig(r=2, lora_alpha=2, init_lora_weights=False, target_modules=["q_proj", "k_proj"]))
    unet_sd, text_sd = get_peft_model_state_dict(unet), get_peft_model_state_dict(text)
    StableDiffusionPipeline.save_lora_weights(
        folder, unet_lora_layers=convert_state_dict_to_diffusers(unet_sd), text_encoder_lora_layers=convert_state_dict_to_diffusers(text_sd),
        weight_name="lora_diffusers.safetensors", safe_serialization=True)
    expected["lora_diffusers.safetensors"] = {
        (c, k[:-len(".lora_A.weight")]): (sd[k], sd[k.replace("lora_A", "lora_B")], 1.0)
        for c, sd in (("unet", unet_sd), ("text", text_sd)) for k in sd if k.endswith(".lora_A.weight")}

    # kohya: names from the diffusers modules with "_" for ".", alpha per module.
    g = torch.Generator().manual_seed(51)
    text, unet = components()
    kohya, expected_kohya = {}, {}
    targets = [("lora_unet_", "unet", unet, "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k", 4, 2.0),
               ("lora_unet_", "unet", unet, "up_blocks.1.attentions.0.proj_out", 3, 3.0),
               ("lora_unet_", "unet", unet, "down_blocks.1.resnets.0.conv2", 2, 1.0),
               ("lora_unet_", "unet", unet, "mid_block.resnets.0.time_emb_proj", 4, 4.0),
               ("lora_te_", "text", text, "text_model.encoder.layers.1.self_attn.out_proj", 4, 2.0),
               ("lora_te_", "text", text, "text_model.encoder.layers.0.mlp.fc2", 4, 2.0)]
    for prefix, component, model, path, rank, alpha in targets:
        module_path = path[len("text_model."):] if path.startswith("text_model.") else path
        w = model.get_submodule(module_path).weight
        key = prefix + path.replace(".", "_")
        if w.dim() == 4:
            down = torch.randn(rank, w.shape[1], w.shape[2], w.shape[3], generator=g) * 0.3
            up = torch.randn(w.shape[0], rank, 1, 1, generator=g) * 0.3
        else:
            down = torch.randn(rank, w.shape[1], generator=g) * 0.3
            up = torch.randn(w.shape[0], rank, generator=g) * 0.3
        kohya.update({key + ".lora_down.weight": down, key + ".lora_up.weight": up, key + ".alpha": torch.tensor(alpha)})
        expected_kohya[(component, module_path)] = (down, up, alpha / rank)
    save_file(kohya, os.path.join(folder, "lora_kohya.safetensors"))
    expected["lora_kohya.safetensors"] = expected_kohya

    tokenizer = CLIPTokenizer.from_pretrained(os.path.join(base, "tokenizer"))
    ids = tokenizer(["a photo of an astronaut riding a horse on mars"], padding="max_length", max_length=77,
                    truncation=True, return_tensors="pt").input_ids
    g = torch.Generator().manual_seed(52)
    sample = torch.randn(1, 4, 8, 8, generator=g)
    io = {"input_ids": ids.to(torch.float32), "unet_sample": sample}
    runs = {"peft_0.7": [("lora_peft.safetensors", 0.7)], "diffusers_1.0": [("lora_diffusers.safetensors", 1.0)],
            "kohya_1.3": [("lora_kohya.safetensors", 1.3)],
            "all_0.5": [("lora_peft.safetensors", 0.5), ("lora_diffusers.safetensors", 0.5), ("lora_kohya.safetensors", 0.5)]}
    for run, files in runs.items():
        text, unet = components()
        vae = AutoencoderKL.from_pretrained(os.path.join(base, "vae"), variant="fp16", torch_dtype=torch.float32).eval()
        pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet,
                                       scheduler=DDIMScheduler(), safety_checker=None, feature_extractor=None,
                                       requires_safety_checker=False)
        names = []
        for i, (f, scale) in enumerate(files):
            pipe.load_lora_weights(folder, weight_name=f, adapter_name=f"a{i}")
            names.append(f"a{i}")
            loaded = {("unet", n): m for n, m in unet.named_modules() if hasattr(m, "lora_A") and f"a{i}" in m.lora_A}
            loaded.update({("text", n): m for n, m in text.named_modules() if hasattr(m, "lora_A") and f"a{i}" in m.lora_A})
            assert set(loaded) == set(expected[f]), (f, sorted(set(loaded) ^ set(expected[f])))
            for key, (down, up, ratio) in expected[f].items():
                m = loaded[key]
                assert torch.equal(m.lora_A[f"a{i}"].weight, down) and torch.equal(m.lora_B[f"a{i}"].weight, up), (f, key)
                assert abs(m.scaling[f"a{i}"] - ratio) < 1e-9, (f, key, m.scaling[f"a{i}"], ratio)
        pipe.set_adapters(names, [1.0] * len(names))
        pipe.fuse_lora(lora_scale=files[0][1], adapter_names=names)
        pipe.unload_lora_weights()
        with torch.no_grad():
            hidden = pipe.text_encoder(ids).last_hidden_state
            io[f"{run}/text"] = hidden
            io[f"{run}/unet_output"] = pipe.unet(sample, torch.tensor([601]), hidden).sample
    save_file({k: v.contiguous() for k, v in io.items()}, os.path.join(folder, "outputs.safetensors"))


def make_ip_adapter():
    """The public IP-Adapter's layout for the SD 1.x fixture: image_encoder/ (a tiny random
    CLIPVisionModelWithProjection, gelu as ViT-H) and ip-adapter_sd15.safetensors (image_proj.* and
    ip_adapter.{1 + 2n}.to_k_ip / to_v_ip for each cross-attention in attn_processors order), and
    diffusers' pipelines with load_ip_adapter on a 96x64 style reference: the image embedding,
    the UNet with IP attention, txt2img, img2img and per-block scales."""
    import numpy as np
    from PIL import Image
    from diffusers import StableDiffusionImg2ImgPipeline, StableDiffusionPipeline
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection
    folder = os.path.join(ROOT, "sd_ip_adapter")
    shutil.rmtree(folder, ignore_errors=True)
    torch.manual_seed(50)
    vision = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=16, intermediate_size=32, projection_dim=12, num_hidden_layers=2, num_attention_heads=2,
        image_size=32, patch_size=8, hidden_act="gelu")).eval()
    randomise_norms(vision, 51)
    vision.save_pretrained(os.path.join(folder, "image_encoder"), safe_serialization=True)
    sd = os.path.join(ROOT, "sd15_tiny")
    pipe = StableDiffusionPipeline.from_pretrained(sd, variant="fp16", torch_dtype=torch.float32, safety_checker=None,
                                                   requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    unet = pipe.unet
    g = torch.Generator().manual_seed(52)
    tokens, width = 4, unet.config.cross_attention_dim
    state = {"image_proj.proj.weight": torch.randn(tokens * width, 12, generator=g) * 0.3,
             "image_proj.proj.bias": torch.randn(tokens * width, generator=g) * 0.1,
             "image_proj.norm.weight": 1 + 0.2 * torch.randn(width, generator=g),
             "image_proj.norm.bias": 0.2 * torch.randn(width, generator=g)}
    channels = list(unet.config.block_out_channels)
    key = 1
    for name in unet.attn_processors.keys():
        if name.endswith("attn1.processor"):
            continue
        if name.startswith("mid_block"):
            hidden = channels[-1]
        elif name.startswith("up_blocks"):
            hidden = list(reversed(channels))[int(name[len("up_blocks.")])]
        else:
            hidden = channels[int(name[len("down_blocks.")])]
        state[f"ip_adapter.{key}.to_k_ip.weight"] = torch.randn(hidden, width, generator=g) * 0.3
        state[f"ip_adapter.{key}.to_v_ip.weight"] = torch.randn(hidden, width, generator=g) * 0.3
        key += 2
    save_file(state, os.path.join(folder, "ip-adapter_sd15.safetensors"))
    # The folder's feature extractor at the encoder's size (a real SD 1.5 folder's is 224, as ViT-H's).
    processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    processor.save_pretrained(os.path.join(sd, "feature_extractor"))
    pipe.feature_extractor = processor
    pipe.load_ip_adapter(folder, subfolder="", weight_name="ip-adapter_sd15.safetensors", image_encoder_folder="image_encoder")
    # A style reference: a 96x64 "painting" (stripes and noise), not square, so resize and crop matter.
    yy, xx = np.mgrid[0:64, 0:96].astype(np.float32)
    arr = np.stack([128 + 100 * np.sin(xx / 7), 128 + 100 * np.cos(yy / 5), (xx + yy) % 256], -1)
    arr = arr + torch.rand(64, 96, 3, generator=g).numpy() * 30
    Image.fromarray(np.clip(arr, 0, 255).round().astype(np.uint8)).save(os.path.join(ROOT, "sd_style.png"))
    style = Image.open(os.path.join(ROOT, "sd_style.png")).convert("RGB")
    photo = Image.open(os.path.join(ROOT, "sd_photo.png")).convert("RGB")
    tensors, cases = {}, {}
    with torch.no_grad():
        pixels = pipe.feature_extractor(style, return_tensors="pt").pixel_values
        embeds = pipe.image_encoder(pixels).image_embeds
        tensors["ip/pixel_values"] = pixels
        tensors["ip/image_embeds"] = embeds
        text = pipe.text_encoder(pipe.tokenizer(["a cat"], padding="max_length", max_length=77, return_tensors="pt").input_ids)[0]
        sample = torch.randn(1, 4, 16, 24, generator=g)
        pipe.set_ip_adapter_scale(0.7)
        tensors["ip/unet_sample"] = sample
        tensors["ip/unet_output"] = unet(sample, torch.tensor([701]), text,
                                         added_cond_kwargs={"image_embeds": [embeds[:, None, :]]}).sample
    classes = {"euler": EulerDiscreteScheduler}
    saved = pipe.scheduler
    for case, kind, scale, settings in IP_CASES:
        pipe.set_ip_adapter_scale(scale)
        scheduler = classes[settings["scheduler"]].from_config(saved.config) if "scheduler" in settings else saved
        components = dict(pipe.components, scheduler=scheduler)
        common = dict(prompt=settings["prompt"], num_inference_steps=settings["steps"], guidance_scale=settings["guidance"],
                      generator=torch.Generator("cpu").manual_seed(settings["seed"]), output_type="latent", ip_adapter_image=style)
        with torch.no_grad():
            if kind == "txt2img":
                latents = StableDiffusionPipeline(**components)(height=settings["height"], width=settings["width"], **common).images
            else:
                latents = StableDiffusionImg2ImgPipeline(**components)(image=photo, strength=settings["strength"], **common).images
            pixels = (pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample / 2 + 0.5).clamp(0, 1)
        tensors[f"{case}/latents"] = latents
        tensors[f"{case}/pixels"] = pixels
        cases[case] = dict(settings, style_images=["sd_style"],
                           style_strength=scale if isinstance(scale, float) else 1.0,
                           style_blocks=json.dumps(scale, sort_keys=True) if isinstance(scale, dict) else None)
        print(f"{case}: latents {tuple(latents.shape)}")
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(ROOT, "sd_ip_outputs.safetensors"))
    with open(os.path.join(ROOT, "sd_ip_cases.json"), "w") as f:
        json.dump(cases, f, indent=1, sort_keys=True)


DEFAULT_MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Weights", "default")


def make_default_model():
    """Parity fixtures from the shipped default model (Weights/default): tokenizer ids, text
    encoder, style encoder, UNet with style tokens, VAE decode, and four 20-step DDIM pipeline
    runs plus one with a style preset and one with style snap from tools/sample.py. Rerun whenever the shipped weights change."""
    import sys
    import numpy as np
    from PIL import Image
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import sample
    import stylediff_model
    folder = os.path.join(ROOT, "default_model")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    pipe = sample.ReferencePipeline(DEFAULT_MODEL)
    prompts = ["folder icon, papirus style", "red heart emoji, noto style", "user trash full icon", "",
               "a prompt with unseen words: zebra quux, breeze style"]
    ids = {p: pipe.ids(p) for p in prompts}
    images = os.path.join(ROOT, "..", "..", "Prompts", "images")
    ref = Image.open(os.path.join(images, "tango-desktop.png"))
    tensors = {}
    with torch.no_grad():
        text = pipe.text(input_ids=torch.tensor([ids[prompts[0]], ids[prompts[3]]])).last_hidden_state
        tensors["text_encoder"] = text
        x = stylediff_model.pixels_to_unit(torch.from_numpy(np.asarray(ref.convert("RGB"))))
        embed = pipe.style.embed(x.permute(2, 0, 1)[None])
        tensors["style_embedding"] = embed
        g = torch.Generator().manual_seed(31)
        latents = torch.randn(2, 4, 16, 16, generator=g)
        for p in pipe.unet.attn_processors.values():
            if hasattr(p, "to_k_ip"):
                p.scale = [0.7]
        embeds = torch.cat([torch.zeros_like(embed), embed])[:, None, :]
        tensors["unet_input"] = latents
        tensors["unet_output"] = pipe.unet(latents, torch.tensor([500, 500]), encoder_hidden_states=text,
                                           added_cond_kwargs={"image_embeds": [embeds]}).sample
        tensors["vae_decoded"] = pipe.vae.decode(latents[:1] / pipe.vae.config.scaling_factor).sample
    cases = {
        "txt2img": dict(prompt="folder icon, papirus style", seed=1),
        "image_style": dict(prompt="folder icon", style_images=["tango-desktop"], seed=2),
        "blend": dict(prompt="computer icon", style_images=["tango-desktop", "tango-fonts"], style_weights=[1.0, 1.0],
                      blend="slerp", seed=3),
        "img2img": dict(prompt="applications office icon, breeze style", init_image="tango-applications-office",
                        strength=0.6, seed=4),
        "preset": dict(prompt="folder icon, papirus style", style_preset="papirus", style_strength=1.5, seed=5),
        "snap": dict(prompt="folder icon", style_images=["tango-desktop", "tango-fonts"], style_weights=[1.0, 2.0],
                     style_snap=0.3, style_strength=2.0, seed=6),
    }
    for name, c in cases.items():
        kw = dict(c)
        kw["style_images"] = [Image.open(os.path.join(images, k + ".png")) for k in c.get("style_images", [])]
        if "init_image" in c:
            kw["init_image"] = Image.open(os.path.join(images, c["init_image"] + ".png"))
        image, lat = pipe(**kw, return_latents=True)
        image.save(os.path.join(folder, name + ".png"))
        tensors[name + "_latents"] = lat
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(folder, "outputs.safetensors"))
    with open(os.path.join(folder, "cases.json"), "w") as f:
        json.dump(dict(cases=cases, token_ids=ids), f, indent=1, sort_keys=True)


RNG_SEEDS = [0, 1, 42, 123456789, 2**32 + 7]
RNG_SHAPES = [(1,), (15,), (16,), (17,), (4, 16, 16), (2, 4, 16, 16)]


def make_rng():
    """torch.randn for several seeds and shapes, and one generator used for a sequence of
    calls (odd sizes leave a cached normal in the generator that the next small call uses)."""
    out = {}
    for seed in RNG_SEEDS:
        for shape in RNG_SHAPES:
            g = torch.Generator("cpu").manual_seed(seed)
            out[f"seed{seed}_" + "x".join(map(str, shape))] = torch.randn(shape, generator=g)
    g = torch.Generator("cpu").manual_seed(7)
    for i, shape in enumerate([(3,), (5,), (20,), (1,), (2, 4, 8, 8), (7,)]):
        out[f"sequence{i}_" + "x".join(map(str, shape))] = torch.randn(shape, generator=g)
    save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(ROOT, "rng.safetensors"))


SCHEDULERS = {"ddpm": DDPMScheduler, "ddim": DDIMScheduler, "euler": EulerDiscreteScheduler,
              "dpmpp": DPMSolverMultistepScheduler, "pndm": PNDMScheduler, "tcd": TCDScheduler}
SD_SCHEDULE = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")
# Loop cases: (name, scheduler, config overrides, step kwargs, seed for the step noise or None)
LOOP_CASES = [
    ("ddpm", "ddpm", dict(clip_sample=False), {}, 11),
    ("ddpm_log_clip_linear", "ddpm", dict(variance_type="fixed_small_log", beta_schedule="linear", beta_start=0.0001, beta_end=0.02), {}, 12),
    ("ddpm_vpred_trailing", "ddpm", dict(prediction_type="v_prediction", timestep_spacing="trailing", rescale_betas_zero_snr=True, clip_sample=False), {}, 13),
    ("ddim", "ddim", dict(clip_sample=False, set_alpha_to_one=False, steps_offset=1), {}, None),
    ("ddim_eta", "ddim", dict(clip_sample=False), dict(eta=0.5), 14),
    ("ddim_vpred_cos", "ddim", dict(prediction_type="v_prediction", beta_schedule="squaredcos_cap_v2", timestep_spacing="linspace"), {}, None),
    ("ddim_sample_trailing", "ddim", dict(prediction_type="sample", timestep_spacing="trailing", clip_sample_range=0.8), {}, None),
    ("euler", "euler", {}, {}, None),
    ("euler_leading_vpred", "euler", dict(timestep_spacing="leading", steps_offset=1, prediction_type="v_prediction"), {}, None),
    ("dpmpp", "dpmpp", {}, {}, None),
    ("dpmpp_trailing_vpred", "dpmpp", dict(timestep_spacing="trailing", prediction_type="v_prediction"), {}, None),
    ("dpmpp_leading_sample", "dpmpp", dict(timestep_spacing="leading", prediction_type="sample", steps_offset=1), {}, None),
    ("pndm_plms", "pndm", dict(skip_prk_steps=True, set_alpha_to_one=False, steps_offset=1), {}, None),
    ("pndm_prk", "pndm", {}, {}, None),
    ("pndm_plms_vpred_linspace", "pndm", dict(skip_prk_steps=True, prediction_type="v_prediction", timestep_spacing="linspace"), {}, None),
    ("pndm_prk_vpred_trailing", "pndm", dict(prediction_type="v_prediction", timestep_spacing="trailing"), {}, None),
    ("tcd_gamma03", "tcd", {}, dict(eta=0.3), 18),
    ("tcd_gamma0_vpred", "tcd", dict(prediction_type="v_prediction"), dict(eta=0.0), 19),
    ("tcd_gamma1_sample_orig20", "tcd", dict(prediction_type="sample", original_inference_steps=20), dict(eta=1.0), 20),
]


def fake_model(x, t):
    """The fake denoiser of the loop tests: a fixed linear function of the sample and timestep."""
    return 0.8 * x + 0.05 * (float(t) / 1000.0)


def make_schedulers():
    """Timesteps for every scheduler x spacing x steps x strength, and 20-step sampling loops
    (txt2img and img2img at strength 0.6) with a fake model, every intermediate sample kept."""
    timesteps = {}
    for name, cls in SCHEDULERS.items():
        for spacing in ("leading", "linspace", "trailing"):
            for steps in (10, 20, 50):
                sched = cls(**SD_SCHEDULE, timestep_spacing=spacing, steps_offset=1 if spacing == "leading" else 0)
                sched.set_timesteps(steps)
                full = sched.timesteps.tolist()
                for strength in (1.0, 0.6, 0.3):
                    init_timestep = min(int(steps * strength), steps)
                    t_start = max(steps - init_timestep, 0)
                    timesteps[f"{name}_{spacing}_{steps}_{strength}"] = dict(
                        timesteps=full[t_start * sched.order:], start_index=t_start)
    tensors = {}
    g = torch.Generator().manual_seed(5)
    x0 = torch.randn(1, 4, 8, 8, generator=g)
    image_latent = torch.randn(1, 4, 8, 8, generator=g) * 0.5
    tensors["initial_noise"] = x0
    tensors["image_latent"] = image_latent
    for case, kind, overrides, kwargs, seed in LOOP_CASES:
        config = dict(SD_SCHEDULE, **overrides)
        for mode, strength in (("txt2img", 1.0), ("img2img", 0.6)):
            sched = SCHEDULERS[kind](**config)
            sched.set_timesteps(20)
            ts = sched.timesteps
            start = 0
            if mode == "txt2img":
                x = x0 * sched.init_noise_sigma
            else:
                start = 20 - min(int(20 * strength), 20)
                ts = sched.timesteps[start:]
                if hasattr(sched, "set_begin_index"):
                    sched.set_begin_index(start)
                x = sched.add_noise(image_latent, x0, ts[:1])
            tensors[f"{case}_{mode}_start"] = x.clone()
            gen = torch.Generator().manual_seed(seed) if seed is not None else None
            for i, t in enumerate(ts):
                model_in = sched.scale_model_input(x, t)
                eps = fake_model(model_in, t)
                extra = dict(generator=gen) if kind != "pndm" else {}
                x = sched.step(eps, t, x, **extra, **kwargs).prev_sample
                tensors[f"{case}_{mode}_step{i}"] = x.clone()
            timesteps[f"loop_{case}_{mode}"] = dict(timesteps=ts.tolist(), start_index=start,
                                                   config=config, kind=kind, eta=kwargs.get("eta", 0.0), seed=seed,
                                                   init_noise_sigma=float(sched.init_noise_sigma))
    # LCM: timesteps by original_inference_steps x steps x strength (None where diffusers
    # refuses), and 4-step loops, the img2img one on the schedule made for its strength.
    for original in (50, 20):
        for steps in (1, 2, 4, 8, 30):
            for strength in (1.0, 0.6, 0.3):
                sched = LCMScheduler(**SD_SCHEDULE, original_inference_steps=original)
                try:
                    sched.set_timesteps(steps, strength=strength)
                    ts = sched.timesteps.tolist()
                except ValueError:
                    ts = None
                timesteps[f"lcmsteps_{original}_{steps}_{strength}"] = dict(timesteps=ts or [], start_index=0 if ts else -1)
    lcm_cases = [("lcm", {}, 15), ("lcm_vpred_orig20_scaling5", dict(prediction_type="v_prediction", original_inference_steps=20,
                                                                       timestep_scaling=5.0, set_alpha_to_one=False), 16),
                 ("lcm_sample_clip", dict(prediction_type="sample", clip_sample=True, clip_sample_range=0.7), 17)]
    for case, overrides, seed in lcm_cases:
        config = dict(SD_SCHEDULE, **overrides)
        for mode, strength in (("txt2img", 1.0), ("img2img", 0.6)):
            sched = LCMScheduler(**config)
            sched.set_timesteps(4, strength=strength)
            ts = sched.timesteps
            x = x0.clone() if mode == "txt2img" else sched.add_noise(image_latent, x0, ts[:1])
            tensors[f"{case}_{mode}_start"] = x.clone()
            gen = torch.Generator().manual_seed(seed)
            for i, t in enumerate(ts):
                eps = fake_model(sched.scale_model_input(x, t), t)
                x = sched.step(eps, t, x, generator=gen).prev_sample
                tensors[f"{case}_{mode}_step{i}"] = x.clone()
            timesteps[f"loop_{case}_{mode}"] = dict(timesteps=ts.tolist(), start_index=0, config=config, kind="lcm", eta=0.0,
                                                   seed=seed, init_noise_sigma=1.0, steps=4, strength=strength)
    for kind, cls in dict(SCHEDULERS, lcm=LCMScheduler).items():
        for schedule in ("linear", "scaled_linear", "squaredcos_cap_v2"):
            # LCMScheduler's own beta defaults differ (0.00085, 0.012): the shared ones are given.
            sched = cls(num_train_timesteps=1000, beta_schedule=schedule, beta_start=0.0001, beta_end=0.02)
            tensors[f"alphas_cumprod_{kind}_{schedule}"] = sched.alphas_cumprod.clone()
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(ROOT, "schedulers.safetensors"))
    with open(os.path.join(ROOT, "schedulers.json"), "w") as f:
        json.dump(timesteps, f, indent=0, sort_keys=True)


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
    if args.only in (None, "vae_tiny"):
        make_vae_tiny()
    if args.only in (None, "clip_text"):
        make_clip()
    if args.only in (None, "pipeline"):
        make_pipeline()
    if args.only in (None, "sd"):
        make_sd_pipelines()
    if args.only in (None, "sd", "ip_adapter"):
        make_ip_adapter()
    if args.only in (None, "sd", "lcm"):
        make_lcm()
    if args.only in (None, "sd", "lora"):
        make_lora()
    if args.only in (None, "default_model") and os.path.isdir(DEFAULT_MODEL):
        make_default_model()
    if args.only in (None, "rng"):
        make_rng()
    if args.only in (None, "schedulers"):
        make_schedulers()
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(ROOT) for f in fs)
    print(f"fixtures: {total / 1e6:.2f} MB under {os.path.normpath(ROOT)}")


if __name__ == "__main__":
    main()
