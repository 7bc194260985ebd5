#!/usr/bin/env python3
"""Times PyTorch (diffusers) and stylediff on the same UNet weights and inputs in one
invocation: one batch-2 evaluation at a 16x16 latent, medians per thread count, the ratio,
peak resident memory of each engine (each runs in its own process), and the largest
difference between their outputs.

  swift build -c release --product stylediff-bench
  python3 tools/bench_reference.py unet --model /var/tmp/sd/sd15/unet --threads 1,2 --repeats 5 --rounds 5
  python3 tools/bench_reference.py pipeline --model Weights/default     # seconds per image
  python3 tools/bench_reference.py sd --model /var/tmp/sd15 --size 512 --steps 4 --rounds 3
      # a Stable Diffusion folder: diffusers' StableDiffusionPipeline and stylediff, interleaved

Create the SD 1.5-architecture model with tools/make_sd15_random.py first.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SWIFT = os.path.join(HERE, "..", ".build", "release", "stylediff-bench")


def median(values):
    """The middle value (the upper one of an even count), as the Swift benchmarks report it."""
    values = sorted(values)
    return values[len(values) // 2]


def peak_resident_mb():
    """VmHWM of this process image (ru_maxrss would include a parent's peak across exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def torch_worker(model, threads, repeats, output, inputs_out, latent_size=None):
    import torch
    from diffusers import UNet2DConditionModel
    from safetensors.torch import load_file, save_file
    torch.set_num_threads(threads)
    unet = UNet2DConditionModel.from_pretrained(model, torch_dtype=torch.float32).eval()
    path = os.path.join(model, "bench_inputs.safetensors")
    if os.path.exists(path) and not latent_size:
        inputs = load_file(path)
        sample, context, t = inputs["sample"], inputs["encoder_hidden_states"], inputs["timesteps"]
    else:
        g = torch.Generator().manual_seed(1)
        cross = unet.config.cross_attention_dim
        cross = cross[0] if isinstance(cross, (list, tuple)) else cross
        side = latent_size or 16
        sample = torch.randn(2, unet.config.in_channels, side, side, generator=g)
        context = torch.randn(2, 77, cross, generator=g)
        t = torch.tensor([500.0, 500.0])
    if inputs_out:
        save_file({"sample": sample.contiguous(), "encoder_hidden_states": context.contiguous(), "timesteps": t}, inputs_out)
    times = []
    with torch.inference_mode():
        out = unet(sample, t, context).sample
        for _ in range(repeats):
            start = time.perf_counter()
            out = unet(sample, t, context).sample
            times.append(time.perf_counter() - start)
    if output:
        save_file({"output": out.contiguous()}, output)
    times.sort()
    peak_mb = peak_resident_mb()
    print(json.dumps({"median": times[len(times) // 2], "peak_mb": peak_mb}))


def run_unet(args):
    """Rounds alternate the engines (each in a fresh process, PyTorch first); per thread count,
    the median over rounds of each engine's median time and of the rounds' ratios."""
    results = {}  # threads -> list of (pytorch s, stylediff s, pytorch MB, stylediff MB, diff)
    threads = [int(x) for x in args.threads.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for t in threads:
                torch_out, swift_out = os.path.join(tmp, f"torch{t}.st"), os.path.join(tmp, f"swift{t}.st")
                used_inputs = os.path.join(tmp, f"inputs{t}.st")
                env = dict(os.environ, OMP_NUM_THREADS=str(t))
                tr = subprocess.run([sys.executable, __file__, "torch-worker", "--model", args.model, "--threads", str(t),
                                     "--repeats", str(args.repeats), "--output", torch_out, "--inputs-out", used_inputs]
                                    + (["--latent-size", str(args.latent_size)] if args.latent_size else []),
                                    capture_output=True, text=True, env=env)
                if tr.returncode != 0:
                    sys.exit(f"PyTorch run failed:\n{tr.stderr}")
                torch_res = json.loads(tr.stdout.strip().splitlines()[-1])
                sr = subprocess.run([args.swift, "unet", args.model, "--threads", str(t), "--repeats", str(args.repeats),
                                     "--json", "--output", swift_out, "--inputs", used_inputs, "--weights", args.weights],
                                    capture_output=True, text=True)
                if sr.returncode != 0:
                    sys.exit(f"stylediff run failed:\n{sr.stderr}")
                swift_res = json.loads(sr.stdout)
                from safetensors.torch import load_file
                a, b = load_file(torch_out)["output"], load_file(swift_out)["output"]
                diff = (a - b).abs().max().item() / max(1.0, a.abs().max().item())
                row = (torch_res["median"], swift_res["results"][0]["medianSeconds"], torch_res["peak_mb"],
                       swift_res["peakResidentMB"], diff)
                results.setdefault(t, []).append(row)
                if args.rounds > 1:
                    print(f"round {r + 1}, {t} threads: PyTorch {row[0]:.4f} s, stylediff {row[1]:.4f} s, "
                          f"ratio {row[0] / row[1]:.2f}", flush=True)

    side = args.latent_size or 16
    print(f"UNet {args.model}: one batch-2 evaluation at a {side}x{side} latent, median of {args.repeats} "
          f"per process, median of {args.rounds} interleaved round(s), stylediff weights {args.weights}")
    print("threads  PyTorch s  stylediff s  speed-up (PyTorch/stylediff)  peak MB PyTorch  peak MB stylediff  max rel diff")
    summary = []
    for t in threads:
        rows = results[t]
        pt, sw = median(r[0] for r in rows), median(r[1] for r in rows)
        ratio = median(r[0] / r[1] for r in rows)
        pm, sm, d = max(r[2] for r in rows), max(r[3] for r in rows), max(r[4] for r in rows)
        summary.append(dict(threads=t, pytorch_s=pt, stylediff_s=sw, ratio=ratio, pytorch_peak_mb=pm,
                            stylediff_peak_mb=sm, max_relative_difference=d,
                            rounds=[dict(pytorch_s=r[0], stylediff_s=r[1]) for r in rows]))
        print(f"{t:7d}  {pt:9.4f}  {sw:11.4f}  {ratio:28.2f}  {pm:15.0f}  {sm:17.0f}  {d:12.2e}")
    if args.rounds > 1:
        print("(speed-up: the median of the rounds' ratios; peak MB: the largest over rounds)")
    if args.json:
        print(json.dumps(summary))


def pipeline_worker(model, threads, repeats, steps, style_image):
    import torch
    from PIL import Image
    sys.path.insert(0, HERE)
    from sample import ReferencePipeline
    torch.set_num_threads(threads)
    pipe = ReferencePipeline(model)
    images = [Image.open(style_image)] if style_image else []
    call = lambda: pipe("folder icon, papirus style", style_images=images, steps=steps, seed=1)
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    times.sort()
    print(json.dumps({"median": times[len(times) // 2], "peak_mb": peak_resident_mb()}))


def run_pipeline(args):
    rows = []
    for t in [int(x) for x in args.threads.split(",")]:
        extra = ["--style-image", args.style_image] if args.style_image else []
        tr = subprocess.run([sys.executable, __file__, "pipeline-worker", "--model", args.model, "--threads", str(t),
                             "--repeats", str(args.repeats), "--steps", str(args.steps)] + extra,
                            capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS=str(t)))
        if tr.returncode != 0:
            sys.exit(f"PyTorch run failed:\n{tr.stderr}")
        torch_res = json.loads(tr.stdout.strip().splitlines()[-1])
        sr = subprocess.run([args.swift, "pipeline", args.model, "--threads", str(t), "--repeats", str(args.repeats),
                             "--steps", str(args.steps), "--json"] + extra, capture_output=True, text=True)
        if sr.returncode != 0:
            sys.exit(f"stylediff run failed:\n{sr.stderr}")
        swift_res = json.loads(sr.stdout)
        rows.append((t, torch_res["median"], swift_res["results"][0]["medianSeconds"], torch_res["peak_mb"],
                     swift_res["peakResidentMB"]))
    print(f"{args.model}: seconds per image ({args.steps} DDIM steps, CFG, decode), median of {args.repeats}")
    print("threads  PyTorch s  stylediff s  speed-up (PyTorch/stylediff)  peak MB PyTorch  peak MB stylediff")
    for t, pt, sw, pm, sm in rows:
        print(f"{t:7d}  {pt:9.4f}  {sw:11.4f}  {pt / sw:28.2f}  {pm:15.0f}  {sm:17.0f}")


def sd_worker(model, threads, steps, size, scheduler):
    """One warm-up and one timed image with diffusers' StableDiffusionPipeline (fp32, CFG 7.5):
    seconds for the image, median seconds per denoising step (between step callbacks, the first
    left out as it holds prompt encoding), this process's peak resident MB."""
    import torch
    from diffusers import DDIMScheduler, EulerDiscreteScheduler, PNDMScheduler, StableDiffusionPipeline
    torch.set_num_threads(threads)
    pipe = StableDiffusionPipeline.from_pretrained(model, safety_checker=None, requires_safety_checker=False)
    classes = dict(ddim=DDIMScheduler, euler=EulerDiscreteScheduler, pndm=PNDMScheduler)
    if scheduler:
        pipe.scheduler = classes[scheduler].from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    marks = []

    def mark(p, i, t, kw):
        marks.append(time.perf_counter())
        return kw

    def image():
        marks.clear()
        start = time.perf_counter()
        marks.append(start)
        with torch.inference_mode():
            pipe("a lighthouse on a cliff at sunset, oil painting", width=size, height=size, num_inference_steps=steps,
                 guidance_scale=7.5, generator=torch.Generator("cpu").manual_seed(1), output_type="np",
                 callback_on_step_end=mark)
        return time.perf_counter() - start

    image()
    seconds = image()
    steps_s = sorted(b - a for a, b in zip(marks[1:], marks[2:]))
    print(json.dumps({"median": seconds, "step": steps_s[len(steps_s) // 2] if steps_s else float("nan"),
                      "peak_mb": peak_resident_mb()}))


def run_sd(args):
    """Rounds alternate the engines (each in a fresh process: load, warm-up image, timed image);
    medians over rounds."""
    torch_rows, swift_rows = [], []
    for r in range(args.rounds):
        tr = subprocess.run([sys.executable, __file__, "sd-worker", "--model", args.model, "--threads", str(args.threads),
                             "--steps", str(args.steps), "--size", str(args.size)] + (["--scheduler", args.scheduler] if args.scheduler else []),
                            capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS=str(args.threads)))
        if tr.returncode != 0:
            sys.exit(f"PyTorch run failed:\n{tr.stderr}")
        torch_rows.append(json.loads(tr.stdout.strip().splitlines()[-1]))
        sr = subprocess.run([args.swift, "pipeline", args.model, "--threads", str(args.threads), "--repeats", "1",
                             "--steps", str(args.steps), "--width", str(args.size), "--height", str(args.size), "--json",
                             "--prompt", "a lighthouse on a cliff at sunset, oil painting"]
                            + (["--scheduler", args.scheduler] if args.scheduler else []), capture_output=True, text=True)
        if sr.returncode != 0:
            sys.exit(f"stylediff run failed:\n{sr.stderr}")
        res = json.loads(sr.stdout)
        swift_rows.append({"median": res["results"][0]["medianSeconds"], "step": res["results"][0]["medianStepSeconds"],
                           "peak_mb": res["peakResidentMB"]})
        print(f"round {r + 1}: PyTorch {torch_rows[-1]}, stylediff {swift_rows[-1]}", flush=True)

    pt_step, sw_step = median(r["step"] for r in torch_rows), median(r["step"] for r in swift_rows)
    pt_image, sw_image = median(r["median"] for r in torch_rows), median(r["median"] for r in swift_rows)
    pt_mb, sw_mb = max(r["peak_mb"] for r in torch_rows), max(r["peak_mb"] for r in swift_rows)
    print(f"{args.model}: {args.size}x{args.size}, {args.steps} steps, batch 2 (CFG 7.5), {args.threads} threads, "
          f"median of {args.rounds} interleaved rounds")
    print("                         PyTorch   stylediff   PyTorch/stylediff")
    print(f"seconds per step      {pt_step:10.2f}  {sw_step:10.2f}  {pt_step / sw_step:10.2f}")
    print(f"seconds per image     {pt_image:10.2f}  {sw_image:10.2f}  {pt_image / sw_image:10.2f}")
    print(f"peak resident MB      {pt_mb:10.0f}  {sw_mb:10.0f}  {pt_mb / sw_mb:10.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    u = sub.add_parser("unet")
    u.add_argument("--model", required=True)
    u.add_argument("--threads", default="1,2")
    u.add_argument("--repeats", type=int, default=5)
    u.add_argument("--rounds", type=int, default=1, help="interleaved rounds (fresh processes for both engines each)")
    u.add_argument("--swift", default=DEFAULT_SWIFT)
    u.add_argument("--json", action="store_true")
    u.add_argument("--latent-size", type=int, help="seeded inputs at this latent side (64: a 512 px step) instead of bench_inputs")
    u.add_argument("--weights", default="stored", choices=["stored", "f16", "int8"], help="stylediff's --weights (PyTorch keeps fp32)")
    pl = sub.add_parser("pipeline")
    pl.add_argument("--model", required=True)
    pl.add_argument("--threads", default="1,2")
    pl.add_argument("--repeats", type=int, default=5)
    pl.add_argument("--steps", type=int, default=20)
    pl.add_argument("--style-image")
    pl.add_argument("--swift", default=DEFAULT_SWIFT)
    pw = sub.add_parser("pipeline-worker")
    pw.add_argument("--model", required=True)
    pw.add_argument("--threads", type=int, required=True)
    pw.add_argument("--repeats", type=int, required=True)
    pw.add_argument("--steps", type=int, required=True)
    pw.add_argument("--style-image")
    sd = sub.add_parser("sd")
    sd.add_argument("--model", required=True)
    sd.add_argument("--threads", type=int, default=2)
    sd.add_argument("--steps", type=int, default=4)
    sd.add_argument("--size", type=int, default=512)
    sd.add_argument("--rounds", type=int, default=3)
    sd.add_argument("--scheduler", choices=["ddim", "euler", "pndm"])
    sd.add_argument("--swift", default=DEFAULT_SWIFT)
    sw = sub.add_parser("sd-worker")
    sw.add_argument("--model", required=True)
    sw.add_argument("--threads", type=int, required=True)
    sw.add_argument("--steps", type=int, required=True)
    sw.add_argument("--size", type=int, required=True)
    sw.add_argument("--scheduler")
    w = sub.add_parser("torch-worker")
    w.add_argument("--model", required=True)
    w.add_argument("--threads", type=int, required=True)
    w.add_argument("--repeats", type=int, required=True)
    w.add_argument("--output")
    w.add_argument("--inputs-out")
    w.add_argument("--latent-size", type=int)
    args = ap.parse_args()
    if args.mode == "unet":
        run_unet(args)
    elif args.mode == "pipeline":
        run_pipeline(args)
    elif args.mode == "sd":
        run_sd(args)
    elif args.mode == "sd-worker":
        sd_worker(args.model, args.threads, args.steps, args.size, args.scheduler)
    elif args.mode == "pipeline-worker":
        pipeline_worker(args.model, args.threads, args.repeats, args.steps, args.style_image)
    else:
        torch_worker(args.model, args.threads, args.repeats, args.output, args.inputs_out, args.latent_size)


if __name__ == "__main__":
    main()
