#!/usr/bin/env python3
"""Builds the style dataset: the same contents drawn in 12 icon themes and 3 emoji fonts.

Renders every (content, style) pair to 64x64 RGB on white and writes
  OUT/images/<style>/<content>.png
  OUT/manifest.jsonl   one record per image: style, content, prompt, file, split, kind, context
  OUT/prompts.txt      the prompt corpus (one prompt per line, sorted, for the tokenizer)
  OUT/VERSION          data version and the Debian package versions it was built from

Deterministic: the same packages give the same files and manifest (sorted walks, no
randomness; the split comes from a hash of each content group's name).
Facts and pitfalls: ../shared/DATA.md. Usage: python3 tools/build_dataset.py --out DIR [--install]
"""
import argparse
import hashlib
import io
import json
import os
import re
import subprocess
import sys
from multiprocessing import Pool

DATA_VERSION = "1"
SIZE = 64
ICON_ROOT = "/usr/share/icons"
# style id -> (package, theme folder)
ICON_THEMES = {
    "papirus": ("papirus-icon-theme", "Papirus"),
    "paper": ("paper-icon-theme", "Paper"),
    "numix": ("numix-icon-theme", "Numix"),
    "mint": ("mint-y-icons", "Mint-Y"),
    "yaru": ("yaru-theme-icon", "Yaru"),
    "bloom": ("deepin-icon-theme", "bloom"),
    "breeze": ("breeze-icon-theme", "breeze"),
    "elementary": ("elementary-icon-theme", "elementary"),
    "faenza": ("faenza-icon-theme", "Faenza"),
    "oxygen": ("oxygen-icon-theme", "oxygen"),
    "tango": ("tango-icon-theme", "Tango"),
    "gnome": ("gnome-icon-theme", "gnome"),
}
EMOJI_PACKAGES = ["fonts-noto-color-emoji", "fonts-symbola", "ruby-gemojione", "unicode-data"]
TOOL_PACKAGES = ["librsvg2-bin", "python3-pil"]
NOTO_FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
SYMBOLA_FONT = "/usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf"
EMOJIONE_DIR = "/usr/share/rubygems-integration/all/gems/gemojione-3.3.0/assets/png"
EMOJI_TEST = "/usr/share/unicode/emoji/emoji-test.txt"
CONTEXTS = {"apps", "places", "devices", "mimetypes", "actions", "status", "categories"}
CONTEXT_ALIASES = {"mimes": "mimetypes", "mimetype": "mimetypes", "application": "apps",
                   "device": "devices", "place": "places", "action": "actions"}
MIN_STYLES = 3          # a content name must exist in at least this many icon styles
HELDOUT_PERCENT = 10    # whole content groups held out for evaluation


def install():
    pkgs = [p for p, _ in ICON_THEMES.values()] + EMOJI_PACKAGES + TOOL_PACKAGES
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends"] + pkgs,
                   check=True, env=env)


def package_versions():
    pkgs = sorted([p for p, _ in ICON_THEMES.values()] + EMOJI_PACKAGES)
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\\n"] + pkgs,
                         capture_output=True, text=True)
    return out.stdout


# ----------------------------------------------------------------------------- icons

def parse_size(part):
    """'64x64' / '64' -> 64; 'scalable' -> 10000; '64x64@2x' -> None (HiDPI copies skipped)."""
    if "@" in part:
        return None
    if part == "scalable":
        return 10000
    m = re.fullmatch(r"(\d+)(x\d+)?", part)
    return int(m.group(1)) if m else None


def scan_theme(theme_dir):
    """Returns {name: [(rank, path, context)]} for the theme's usable icon files."""
    found = {}
    for root, dirs, files in os.walk(theme_dir):
        dirs.sort()
        parts = os.path.relpath(root, theme_dir).split(os.sep)
        if any("symbolic" in p for p in parts):
            continue
        context, size = None, None
        for p in parts:
            c = CONTEXT_ALIASES.get(p, p)
            if c in CONTEXTS:
                context = c
            s = parse_size(p)
            if s is not None:
                size = s
            elif "@" in p:
                size = -1
        if context is None or size is None or size == -1:
            continue
        for f in sorted(files):
            stem, ext = os.path.splitext(f)
            if ext not in (".png", ".svg") or stem.endswith("-symbolic"):
                continue
            path = os.path.join(root, f)
            if not os.path.isfile(path):
                continue
            # Rank: native 64 png, larger png (nearest first), svg, 48 png, anything else.
            if ext == ".png" and size == 64:
                rank = 0
            elif ext == ".png" and 64 < size < 10000:
                rank = 1 + size / 10000
            elif ext == ".svg" and size >= 48:
                rank = 3 + (0 if size == 10000 else abs(size - 64) / 1000)
            elif ext == ".png" and size == 48:
                rank = 4
            else:
                continue
            found.setdefault(stem, []).append((rank, path, context))
    return found


def clean_icon_name(name, context):
    """Readable content words for a prompt; None for names that carry no content words."""
    if "." in name:  # application ids such as org.gnome.Nautilus
        name = name.split(".")[-1]
    name = re.sub(r"([a-z])([A-Z])", r"\1 \2", name).lower()
    tokens = [t for t in re.split(r"[-_ ]+", name) if t]
    if context == "mimetypes":
        drop = {"application", "x", "vnd", "text", "image", "audio", "video", "inode",
                "ms", "oasis", "opendocument", "openxmlformats", "officedocument", "org"}
        tokens = [t for t in tokens if t not in drop]
        if not tokens:
            return None
        return " ".join(tokens) + " file"
    if not tokens:
        return None
    return " ".join(tokens)


def collect_icons():
    per_theme = {}
    for style, (_, folder) in ICON_THEMES.items():
        theme_dir = os.path.join(ICON_ROOT, folder)
        if not os.path.isdir(theme_dir):
            sys.exit(f"missing icon theme {theme_dir}: run with --install")
        found = scan_theme(theme_dir)
        per_theme[style] = {n: sorted(c)[0] for n, c in found.items()}
    counts = {}
    for style, names in per_theme.items():
        for n in names:
            counts[n] = counts.get(n, 0) + 1
    keep = sorted(n for n, c in counts.items() if c >= MIN_STYLES)
    items = []
    for n in keep:
        for style in sorted(per_theme):
            if n in per_theme[style]:
                _, path, context = per_theme[style][n]
                text = clean_icon_name(n, context)
                if text is None:
                    continue
                items.append(dict(kind="icon", style=style, content=n, context=context,
                                  source=path, real=os.path.realpath(path),
                                  prompt=f"{text} icon, {style} style"))
    return items


# ----------------------------------------------------------------------------- emoji

def parse_emoji_test():
    """Fully-qualified emoji without skin tones: (codepoints, name, group/subgroup)."""
    out, group, subgroup = [], "", ""
    with open(EMOJI_TEST, encoding="utf-8") as f:
        for line in f:
            if line.startswith("# group:"):
                group = line.split(":", 1)[1].strip()
            elif line.startswith("# subgroup:"):
                subgroup = line.split(":", 1)[1].strip()
            elif line.strip() and not line.startswith("#"):
                cps, rest = line.split(";", 1)
                status, comment = rest.split("#", 1)
                if status.strip() != "fully-qualified":
                    continue
                cps = [int(c, 16) for c in cps.split()]
                if any(0x1F3FB <= c <= 0x1F3FF for c in cps) or group == "Component":
                    continue
                name = re.sub(r"^\S+\s+E\d+\.\d+\s+", "", comment.strip())
                out.append((cps, name, f"{group}/{subgroup}"))
    return out


def clean_emoji_name(name):
    name = name.lower().replace(":", "").replace("\u201c", "").replace("\u201d", "")
    name = re.sub(r"[^a-z0-9 &'-]+", " ", name)
    return re.sub(r"\s+", " ", name).strip()


def collect_emoji():
    from PIL import ImageFont
    symbola = ImageFont.truetype(SYMBOLA_FONT, 48)
    notdef = bytes(symbola.getmask(chr(0x10FFFD)))
    items = []
    for cps, name, subgroup in parse_emoji_test():
        text = clean_emoji_name(name)
        content = "emoji-" + "-".join(f"{c:x}" for c in cps)
        base = dict(kind="emoji", content=content, context=subgroup,
                    prompt_text=text, chars="".join(chr(c) for c in cps))
        items.append(dict(base, style="noto", source=NOTO_FONT))
        plain = [c for c in cps if c != 0xFE0F]
        if len(plain) == 1:
            mask = symbola.getmask(chr(plain[0]))
            if mask.getbbox() and bytes(mask) != notdef:
                items.append(dict(base, style="symbola", source=SYMBOLA_FONT))
        for key in ("-".join(f"{c:04X}" for c in cps), "-".join(f"{c:04X}" for c in plain)):
            path = os.path.join(EMOJIONE_DIR, key + ".png")
            if os.path.isfile(path):
                items.append(dict(base, style="emojione", source=path))
                break
    for it in items:
        it["real"] = it["source"] + "#" + it["content"]
        it["prompt"] = f"{it.pop('prompt_text')} emoji, {it['style']} style"
    # Keep emoji present in all three styles, as icons keep names in several styles.
    have = {}
    for it in items:
        have.setdefault(it["content"], set()).add(it["style"])
    return [it for it in items if len(have[it["content"]]) == 3]


# ----------------------------------------------------------------------------- render

def to_rgb64(img):
    from PIL import Image
    img = img.convert("RGBA")
    w, h = img.size
    if w != h:  # pad to square, centred, transparent
        s = max(w, h)
        canvas = Image.new("RGBA", (s, s), (0, 0, 0, 0))
        canvas.paste(img, ((s - w) // 2, (s - h) // 2))
        img = canvas
    if img.size != (SIZE, SIZE):
        img = img.resize((SIZE, SIZE), Image.LANCZOS)
    white = Image.new("RGBA", img.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, img).convert("RGB")


def render(job):
    item, out_path = job
    from PIL import Image, ImageDraw, ImageFont
    try:
        src = item["source"]
        if item["kind"] == "emoji" and item["style"] in ("noto", "symbola"):
            if item["style"] == "noto":
                font = ImageFont.truetype(src, 109)
                canvas = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
                ImageDraw.Draw(canvas).text((80, 80), item["chars"], font=font,
                                            embedded_color=True, anchor="mm")
            else:
                font = ImageFont.truetype(src, 100)
                ch = "".join(c for c in item["chars"] if c != "\ufe0f")
                canvas = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
                ImageDraw.Draw(canvas).text((80, 80), ch, font=font, fill=(0, 0, 0, 255),
                                            anchor="mm")
            box = canvas.getbbox()
            if box is None:
                return None
            img = canvas.crop(box)
            # margin like the icon themes: the glyph fills about 90% of the square
            s = int(max(img.size) / 0.9)
            pad = Image.new("RGBA", (s, s), (0, 0, 0, 0))
            pad.paste(img, ((s - img.size[0]) // 2, (s - img.size[1]) // 2))
            img = pad
        elif src.endswith(".svg"):
            png = subprocess.run(["rsvg-convert", "-w", str(SIZE), "-h", str(SIZE), "-a", src],
                                 capture_output=True, timeout=60)
            if png.returncode != 0 or not png.stdout:
                return None
            img = Image.open(io.BytesIO(png.stdout))
        else:
            img = Image.open(src)
        rgb = to_rgb64(img)
        if rgb.getextrema() == ((255, 255), (255, 255), (255, 255)):
            return None  # blank render
        os.makedirs(os.path.dirname(out_path), exist_ok=True)
        tmp = out_path + ".tmp"
        rgb.save(tmp, format="PNG", optimize=False)
        os.replace(tmp, out_path)
        return out_path
    except Exception as e:  # a broken source file drops that one image, loudly
        print(f"skip {item['style']}/{item['content']}: {e}", file=sys.stderr)
        return None


# ----------------------------------------------------------------------------- splits

def stable_hash(text):
    return hashlib.sha256(text.encode()).hexdigest()


def assign_splits(items):
    """Holds out whole content names, about 10% per context (icons) or whole CLDR subgroups
    (emoji), chosen by a hash so the split is stable. Where a held-out icon's file is also
    used under a training name (a symlink alias), that training copy is dropped (split
    "alias"), so no held-out image leaks into training under another name."""
    heldout = set()
    icon_names = {}
    for it in items:
        if it["kind"] == "icon":
            icon_names.setdefault(it["context"], set()).add(it["content"])
    for context, names in sorted(icon_names.items()):
        ordered = sorted(names, key=lambda n: stable_hash("icon:" + n))
        heldout.update(ordered[: round(len(ordered) * HELDOUT_PERCENT / 100)])
    groups = {}
    for it in items:
        if it["kind"] == "emoji":
            top, sub = it["context"].split("/", 1)
            groups.setdefault(top, {}).setdefault(sub, set()).add(it["content"])
    for top, subs in sorted(groups.items()):
        total = sum(len(v) for v in subs.values())
        taken = 0
        for sub in sorted(subs, key=lambda x: stable_hash("emoji:" + x)):
            if taken >= total * HELDOUT_PERCENT / 100:
                break
            heldout.update(subs[sub])
            taken += len(subs[sub])
    heldout_files = {it["real"] for it in items if it["content"] in heldout}
    for it in items:
        if it["content"] in heldout:
            it["split"] = "heldout"
        elif it["real"] in heldout_files:
            it["split"] = "alias"
        else:
            it["split"] = "train"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="data", help="output folder (outside git)")
    ap.add_argument("--install", action="store_true", help="apt-get the packages first")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    if args.install:
        install()
    items = collect_icons() + collect_emoji()
    assign_splits(items)
    items = [it for it in items if it["split"] != "alias"]
    jobs = []
    for it in items:
        it["file"] = f"images/{it['style']}/{it['content']}.png"
        out = os.path.join(args.out, it["file"])
        jobs.append((it, out))
    todo = [j for j in jobs if not os.path.isfile(j[1])]
    print(f"{len(items)} images, {len(todo)} to render", file=sys.stderr)
    with Pool(args.jobs) as pool:
        for i, _ in enumerate(pool.imap(render, todo, chunksize=16)):
            if i % 2000 == 0:
                print(f"  rendered {i}/{len(todo)}", file=sys.stderr)
    records = []
    for it, out in jobs:
        if os.path.isfile(out):
            records.append({k: it[k] for k in
                            ("style", "content", "prompt", "file", "split", "kind", "context")})
    with open(os.path.join(args.out, "manifest.jsonl.tmp"), "w") as f:
        for r in records:
            f.write(json.dumps(r, sort_keys=True) + "\n")
    os.replace(os.path.join(args.out, "manifest.jsonl.tmp"), os.path.join(args.out, "manifest.jsonl"))
    with open(os.path.join(args.out, "prompts.txt"), "w") as f:
        for p in sorted({r["prompt"] for r in records}):
            f.write(p + "\n")
    with open(os.path.join(args.out, "VERSION"), "w") as f:
        f.write(f"data version {DATA_VERSION}\n{package_versions()}")
    styles = {}
    for r in records:
        s = styles.setdefault(r["style"], [0, 0])
        s[0 if r["split"] == "train" else 1] += 1
    print(f"{len(records)} images written ({len(items) - len(records)} dropped: blank/broken)")
    for s in sorted(styles):
        print(f"  {s:11s} train {styles[s][0]:5d}  heldout {styles[s][1]:4d}")


if __name__ == "__main__":
    main()
