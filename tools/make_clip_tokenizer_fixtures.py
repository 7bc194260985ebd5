#!/usr/bin/env python3
"""Writes Tests/Fixtures/clip_tokenizer/: the real CLIP BPE vocabulary as a Hugging Face tokenizer
folder (vocab.json, merges.txt; from bpe_simple_vocab_16e6.txt.gz in the open-clip-torch wheel,
MIT licence) and token ids from transformers' CLIPTokenizer for 6,000 seeded prompts (ASCII,
accents, CJK, emoji, punctuation, numbers, whitespace runs, over-long prompts), padded to 77 with
the SD 1.x pad (<|endoftext|>) and, for the SD 2.x pad ("!"), the ids of the first 500.

  python3 tools/make_clip_tokenizer_fixtures.py [--wheel open_clip_torch-3.3.0-py3-none-any.whl]
"""
import argparse
import glob
import gzip
import json
import os
import random
import subprocess
import tempfile
import zipfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "clip_tokenizer")
WHEEL = "open-clip-torch==3.3.0"


def bytes_to_unicode():
    """GPT-2's byte -> printable character table (openai/CLIP simple_tokenizer)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def vocabulary(wheel):
    with zipfile.ZipFile(wheel) as z:
        text = gzip.decompress(z.read("open_clip/bpe_simple_vocab_16e6.txt.gz")).decode("utf-8")
    merges = [tuple(line.split()) for line in text.split("\n")[1:49152 - 256 - 2 + 1]]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab] + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    return {t: i for i, t in enumerate(vocab)}, merges


def prompts(n, seed):
    rng = random.Random(seed)
    words = ("a photo of an astronaut riding horse on mars folder icon papirus style red heart emoji cat dog house "
             "printer calendar trash bin smiley oil painting by van gogh watercolor portrait 4k hdr highly detailed "
             "cinematic lighting octane render don't it's we're they've i'm you'll he'd").split()
    extra = ["café", "naïve", "Übermensch", "São Paulo", "crème brûlée", "Ελληνικά", "русский", "日本語のテキスト", "中文提示词",
             "한국어", "emoji 😀🎨🐱", "👩‍🚀 astronaut", "🇫🇷 flag", "x²+y³", "½ price", "$100!!!", "e-mail@host.com",
             "(masterpiece:1.2), [bad]", "<tag> & \"quotes\"", "tab\tand\nnewline", "  spaces   ", "ÀÉÎÕÜ", "ǅ ǆ ǈ",
             "İstanbul", "ß straße", "ﬁ ligature", "Ⅻ roman", "١٢٣ arabic digits", "हिन्दी", "ไทย", "'s 't 're", "'''", "...",
             "--", "1234567890", "3.14159", "#hashtag", "@user", "C++", "a/b\\c", "~`^", "café\u0301", "e\u0301"]
    out = []
    for i in range(n):
        k = rng.randint(1, 12)
        parts = []
        for _ in range(k):
            r = rng.random()
            if r < 0.6:
                w = rng.choice(words)
                parts.append(w.upper() if rng.random() < 0.1 else w.capitalize() if rng.random() < 0.2 else w)
            elif r < 0.85:
                parts.append(rng.choice(extra))
            elif r < 0.95:
                parts.append(str(rng.randint(0, 10 ** rng.randint(1, 8))))
            else:
                parts.append("".join(rng.choice(",.;:!?-_()[]{}'\"/*+=") for _ in range(rng.randint(1, 4))))
        sep = rng.choice([" ", ", ", " ", "  ", ","])
        text = sep.join(parts)
        if i % 50 == 0:
            text = " ".join([text] * rng.randint(8, 20))  # over-long: truncated to 75 tokens
        out.append(text)
    out += ["", " ", "a", "A", "<|startoftext|>", "hello<|endoftext|>world", "\u00a0nbsp", "\u3000ideographic space"]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", help="the open-clip-torch wheel (downloaded with pip when left out)")
    args = ap.parse_args()
    wheel = args.wheel
    if not wheel:
        tmp = tempfile.mkdtemp()
        subprocess.run(["python3", "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, WHEEL], check=True)
        wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
    vocab, merges = vocabulary(wheel)
    os.makedirs(ROOT, exist_ok=True)
    with open(os.path.join(ROOT, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(ROOT, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    special = dict(bos_token="<|startoftext|>", eos_token="<|endoftext|>", unk_token="<|endoftext|>", pad_token="<|endoftext|>")
    with open(os.path.join(ROOT, "special_tokens_map.json"), "w") as f:
        json.dump(special, f, indent=2)
    with open(os.path.join(ROOT, "tokenizer_config.json"), "w") as f:
        json.dump(dict(special, model_max_length=77, do_lower_case=True, errors="replace", tokenizer_class="CLIPTokenizer"), f, indent=2)
    from transformers import CLIPTokenizer
    sd1 = CLIPTokenizer.from_pretrained(ROOT)
    sd2 = CLIPTokenizer.from_pretrained(ROOT, pad_token="!")
    assert sd1("a photo of an astronaut")["input_ids"] == [49406, 320, 1125, 539, 550, 18376, 49407], "vocabulary not loaded"
    texts = prompts(6000, 20261130)
    def enc(tok, ts):
        """77 ids each (diffusers' padding="max_length", truncation=True), stored up to the final
        eos (the attention mask's length): every id after it is the pad id (checked here)."""
        out = []
        encoded = tok(ts, padding="max_length", max_length=77, truncation=True)
        for ids, mask in zip(encoded["input_ids"], encoded["attention_mask"]):
            end = sum(mask)
            assert len(ids) == 77 and ids[end - 1] == tok.eos_token_id and all(i == tok.pad_token_id for i in ids[end:])
            out.append(ids[:end])
        return out
    cases = {"prompts": texts, "sd1": enc(sd1, texts), "sd2_first500": enc(sd2, texts[:500]),
             "pad_sd1": sd1.pad_token_id, "pad_sd2": sd2.pad_token_id}
    with open(os.path.join(ROOT, "cases.json"), "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False, separators=(",", ":"))
    print(f"{len(vocab)} tokens, {len(merges)} merges, {len(texts)} prompts to {os.path.normpath(ROOT)}")


if __name__ == "__main__":
    main()
