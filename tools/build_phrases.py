#!/usr/bin/env python3
"""Builds the phrase corpus of issue 20 (plain-word prompts): the text the new text encoder is
distilled on, and the varied captions the UNet is fine-tuned with.

  python3 tools/build_phrases.py --data D --out P [--install]

Sources (Debian 12 packages; --install apt-gets them): wordnet-base (WordNet 3.0 lemmas and
noun glosses), unicode-cldr-core (CLDR English emoji annotations: keywords and names, plain and
derived), and the dataset's own captions (D/manifest.jsonl, build_dataset.py data version 1).

Writes
  P/phrases.txt     the distillation corpus, one phrase per line (deduplicated, shuffled with seed 0);
  P/captions.json   per dataset content: its caption variants (without the style), e.g. for
                    user-trash "user trash", "user rubbish icon", "dark user trash icon";
  P/about.json      counts and package versions.

Held-out rule (Prompts/plain_words.json): no caption variant is a plain word by itself (or its
plural), with or without "icon"/"emoji"/"symbol" and a colour; and no corpus phrase is a plain
word with a style ("heart, noto style"), the exact form the evaluation prompts. Plain words do
occur in the corpus as WordNet lemmas and CLDR keywords (general word knowledge, which is what
the teacher gives), never as an image's caption.
"""
import argparse
import json
import os
import random
import re
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGES = ["wordnet-base", "unicode-cldr-core"]
WORDNET = "/usr/share/wordnet"
CLDR = "/usr/share/unicode/cldr/common"
KIND_WORDS = ("icon", "emoji", "symbol", "picture", "sign")
# Words of icon names that say where an icon comes from, not what it shows.
VENDOR_WORDS = {"gnome", "stock", "xfce", "gtk", "kde", "x", "user", "application", "applications", "org", "fs", "mate"}
# Hue names for the colour words (hue in degrees: upper bound of each band).
HUES = [(15, "red"), (38, "orange"), (70, "yellow"), (165, "green"), (195, "cyan"), (255, "blue"),
        (290, "purple"), (335, "pink"), (360, "red")]


def install():
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends"] + PACKAGES, check=True, env=env)


def package_versions():
    out = {}
    for p in PACKAGES:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", p], capture_output=True, text=True)
        out[p] = r.stdout.strip() if r.returncode == 0 else None
    return out


# ----------------------------------------------------------------------------- sources

def wordnet():
    """(lemmas of every part of speech, {monosemous noun lemma: its synonyms}, noun glosses).
    Synonyms only for nouns with one sense: the first sense of a polysemous word is often not
    the one an icon means ("printer" -> "pressman")."""
    lemmas, glosses, synonyms = set(), [], {}
    for pos in ("noun", "verb", "adj", "adv"):
        with open(os.path.join(WORDNET, f"data.{pos}"), encoding="latin-1") as f:
            for line in f:
                if line.startswith(" "):
                    continue
                head, _, gloss = line.partition("|")
                parts = head.split()
                count = int(parts[3], 16)
                words = [re.sub(r"\(.*\)$", "", parts[4 + 2 * i]).replace("_", " ").lower() for i in range(count)]
                lemmas.update(w for w in words if re.fullmatch(r"[a-z][a-z0-9 '-]*", w))
                if pos == "noun":
                    g = gloss.split(";")[0].strip().strip('"')
                    if 2 <= len(g.split()) <= 12:
                        glosses.append(g)
    # First (most frequent) noun sense of each lemma, from the index's ordered synset list.
    offsets = {}
    with open(os.path.join(WORDNET, "index.noun"), encoding="latin-1") as f:
        for line in f:
            if line.startswith(" "):
                continue
            parts = line.split()
            lemma, senses, n_ptr = parts[0], int(parts[2]), int(parts[3])
            if senses == 1:
                offsets[lemma.replace("_", " ")] = parts[4 + n_ptr + 2]
    with open(os.path.join(WORDNET, "data.noun"), encoding="latin-1") as f:
        by_offset = {}
        for line in f:
            if not line.startswith(" "):
                parts = line.split()
                count = int(parts[3], 16)
                by_offset[parts[0]] = [parts[4 + 2 * i].replace("_", " ").lower() for i in range(count)]
    for lemma, off in offsets.items():
        syn = [w for w in by_offset.get(off, []) if w != lemma and re.fullmatch(r"[a-z][a-z -]*", w)]
        if syn:
            synonyms[lemma] = syn
    return sorted(lemmas), synonyms, glosses


def cldr():
    """{emoji characters: (name, keywords)} from CLDR's English annotations (plain and derived)."""
    out = {}
    for path in ("annotations/en.xml", "annotationsDerived/en.xml"):
        for a in ET.parse(os.path.join(CLDR, path)).getroot().iter("annotation"):
            cp, text = a.get("cp"), (a.text or "").strip().lower()
            name, keywords = out.get(cp, ("", []))
            if a.get("type") == "tts":
                name = text
            else:
                keywords = keywords + [k.strip() for k in text.split("|") if k.strip()]
            out[cp] = (name, keywords)
    return out


def colour_word(path):
    """The colour of a drawing's most saturated third of pixels ('red', 'blue', ...), or 'white'
    / 'black' / 'grey' for a drawing without colour; None when nothing is opaque enough."""
    im = np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3).astype(np.float32) / 255
    mx, mn = im.max(1), im.min(1)
    sat = (mx - mn) / np.maximum(mx, 1e-6)
    fg = (np.abs(im - 1).sum(1) > 0.15) & (im.sum(1) > 0.15)  # not the white/black background
    if fg.sum() < 40:
        return None
    colourful = fg & (sat > 0.35) & (mx > 0.25)
    if colourful.sum() < 0.2 * fg.sum():
        v = mx[fg].mean()
        return "white" if v > 0.8 else "black" if v < 0.25 else "grey"
    px = im[colourful]
    r, g, b = px.mean(0)
    m, n = max(r, g, b), min(r, g, b)
    if m - n < 1e-6:
        return "grey"
    h = (60 * ((g - b) / (m - n)) % 360 if m == r else 60 * ((b - r) / (m - n)) + 120 if m == g
         else 60 * ((r - g) / (m - n)) + 240)
    return next(name for bound, name in HUES if h <= bound)


# ----------------------------------------------------------------------------- building

def held_out_words(path):
    words = set()
    for p in json.load(open(path))["prompts"]:
        w = p["prompt"].lower()
        words.update({w, w + "s", w + "es"})
    return words


def bare(phrase):
    """A caption's content words without kind words and colours (for the held-out rule)."""
    colours = {c for _, c in HUES} | {"white", "black", "grey", "gray", "dark", "light"}
    words = [w for w in phrase.lower().replace(",", " ").split() if w not in KIND_WORDS and w not in colours]
    return " ".join(words)


def caption_variants(rec, text, synonyms, emoji_info, colour, generic):
    """Caption variants of one content (without style): its dataset name, the name without
    vendor words ("user trash" -> "trash"), CLDR keywords (emoji), WordNet synonyms of its
    monosemous words, with or without a kind word or its colour."""
    kind = rec["kind"]
    bases = {text}
    plain = " ".join(w for w in text.split() if w not in VENDOR_WORDS)
    if plain:
        bases.add(plain)
    if kind == "emoji" and emoji_info:
        name, keywords = emoji_info
        bases.update(k for k in [name] + keywords if k and k not in generic)
    words = text.split()
    for i, w in enumerate(words):
        for s in synonyms.get(w, [])[:3]:
            bases.add(" ".join(words[:i] + [s] + words[i + 1:]))
    out = set()
    for b in bases:
        out.add(b)
        out.add(f"{b} {kind}")
        out.add(f"{b} symbol")
        if colour and colour not in b.split():
            out.add(f"{colour} {b} {kind}")
            out.add(f"{colour} {b}")
    return sorted(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--prompts", default=os.path.join(HERE, "..", "Prompts", "plain_words.json"))
    ap.add_argument("--compositions", type=int, default=120000, help="random lemma compositions in the corpus")
    ap.add_argument("--install", action="store_true", help="apt-get the packages first")
    args = ap.parse_args()
    if args.install:
        install()
    for path in (WORDNET, CLDR):
        if not os.path.isdir(path):
            raise SystemExit(f"missing {path}: run with --install")
    rng = random.Random(0)
    held = held_out_words(args.prompts)
    lemmas, synonyms, glosses = wordnet()
    emoji = cldr()
    recs = [json.loads(l) for l in open(os.path.join(args.data, "manifest.jsonl"))]
    styles = sorted({r["style"] for r in recs})

    # CLDR keywords too generic to name one emoji ("face", "flag"): on more than 20 of them.
    uses = {}
    for _, keywords in emoji.values():
        for k in set(keywords):
            uses[k] = uses.get(k, 0) + 1
    generic = {k for k, n in uses.items() if n > 20}
    # Caption variants per content (colour from its first training drawing).
    captions, dropped = {}, 0
    for r in recs:
        if r["content"] in captions or r["split"] != "train":
            continue
        text = r["prompt"].rsplit(",", 1)[0]
        text = text[: -len(" " + r["kind"])] if text.endswith(" " + r["kind"]) else text
        info = None
        if r["kind"] == "emoji":
            chars = "".join(chr(int(c, 16)) for c in r["content"].split("-")[1:])
            info = emoji.get(chars) or emoji.get(chars.replace("\ufe0f", ""))
        colour = colour_word(os.path.join(args.data, r["file"]))
        variants = caption_variants(r, text, synonyms, info, colour, generic)
        kept = [v for v in variants if bare(v) and bare(v) not in held]
        dropped += len(variants) - len(kept)
        captions[r["content"]] = kept

    # The distillation corpus.
    corpus = set(lemmas) | set(glosses)
    for name, keywords in emoji.values():
        corpus.update([name, f"{name} emoji"] + keywords)
    for variants in captions.values():
        corpus.update(variants)
    for r in recs:
        corpus.add(r["prompt"])
    nouns = [l for l in lemmas if " " not in l]
    colours = sorted({c for _, c in HUES} | {"white", "black", "grey"})
    for _ in range(args.compositions):
        w = rng.choice(nouns)
        form = rng.randrange(4)
        corpus.add(f"{w} icon" if form == 0 else f"{w} emoji" if form == 1 else f"{rng.choice(colours)} {w}"
                   if form == 2 else f"{w}, {rng.choice(styles)} style")
    for variants in captions.values():  # styled caption variants
        for v in rng.sample(variants, min(2, len(variants))):
            corpus.add(f"{v}, {rng.choice(styles)} style")
    # Held-out rule: no plain word with a style (the evaluation's prompt form).
    corpus = sorted(p for p in corpus if p and not (p.endswith(" style") and bare(p.rsplit(",", 1)[0]) in held))
    rng.shuffle(corpus)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "phrases.txt"), "w") as f:
        f.write("\n".join(corpus) + "\n")
    json.dump(captions, open(os.path.join(args.out, "captions.json"), "w"), indent=0, sort_keys=True)
    about = dict(packages=package_versions(), phrases=len(corpus), lemmas=len(lemmas), glosses=len(glosses),
                 cldr_entries=len(emoji), contents=len(captions),
                 caption_variants=sum(len(v) for v in captions.values()), variants_dropped_held_out=dropped)
    json.dump(about, open(os.path.join(args.out, "about.json"), "w"), indent=1)
    print(json.dumps(about))


if __name__ == "__main__":
    main()
