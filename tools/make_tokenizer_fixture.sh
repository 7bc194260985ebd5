#!/usr/bin/env bash
# Regenerates Tests/TextTokenizerTests/Fixtures: a tiny SentencePiece model trained by
# spm_train (Debian package `sentencepiece`) on a prompt corpus, and the ids that spm_encode
# gives for a few sentences, which the Swift tokenizer must reproduce exactly.
set -euo pipefail
cd "$(dirname "$0")/../Tests/TextTokenizerTests/Fixtures"
command -v spm_train >/dev/null || { echo "install the 'sentencepiece' package" >&2; exit 1; }
spm_train --input=corpus.txt --model_prefix=tiny --vocab_size=120 --model_type=unigram \
  --character_coverage=1.0 --normalization_rule_name=identity --pad_id=0 --unk_id=1 --bos_id=-1 --eos_id=2 \
  --seed_sentencepiece_size=2000 --num_threads=1 --minloglevel=2 >/dev/null 2>&1
rm -f tiny.vocab
: > expected.tsv
while IFS= read -r line; do
  printf '%s\t%s\n' "$line" "$(printf '%s\n' "$line" | spm_encode --model=tiny.model --output_format=id)" >> expected.tsv
done < sentences.txt
