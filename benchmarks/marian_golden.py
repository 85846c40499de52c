"""kqv's MarianMT held against Hugging Face transformers: golden files made by transformers.

1. Two SentencePiece models are trained on the shared eng-fra pairs (``source.spm`` on the
   English side with the NFKC normalisation real Marian models use, ``target.spm`` on the
   French side), and ``vocab.json`` joins their pieces into one id space as Marian's does
   (``</s>`` 0, ``<unk>`` 1, the pieces, ``<pad>`` last). transformers' ``MarianTokenizer``
   reads the three and writes them back with ``save_pretrained``.
2. A random ``MarianMTModel`` of tiny sizes (C = 16, 2 encoder and 3 decoder layers, 4 heads,
   d_ff = 40, SiLU, embeddings × √C) is written beside them with ``save_pretrained``. Its
   weights are drawn far from the usual init (LayerNorm gains away from 1, biases away from 0,
   a random ``final_logits_bias`` that also favours ``</s>`` so sentences end) so a mix-up of
   names, a missing bias or a forgotten √C cannot hide. ``generation_config.json`` holds
   Marian's rules: 4 beams, ``max_length``, ``<pad>`` never generated, ``</s>`` forced last.
3. transformers (eager attention, float32) runs 20 English sentences of the pairs file as one
   padded batch and records: the token ids its tokenizer gives, the logits of a teacher-forced
   pass over the French references (shifted right behind the start token, which is ``<pad>``),
   every decoder layer's cross-attention probabilities, and ``generate()``'s greedy and beam-4
   token ids and decoded text.

5. With ``--export``: a small translation model trained by kqv (tests/data/translate-tiny.npz),
   exported by ``kqv export --hf``, loaded by ``MarianMTModel.from_pretrained`` (its missing,
   unexpected and mismatched keys recorded: none) and ``AutoTokenizer``; its token ids, logits,
   greedy and beam-4 ids and text go to tests/data/marian-export-golden.npz.
4. The same beam-4 generation under other rules (``OTHER_RULES``: ``renormalize_logits``, a
   length penalty of 0.6, ``max_length`` 12, so the forced end token decides some sentences).

``--write-golden`` writes the folder to ``tests/data/marian-tiny/`` and the arrays to
``tests/data/marian-tiny-golden.npz``; tests/test_hf_marian.py holds kqv against them with no
torch. Without it the script only prints what it would write (shapes, a few translations).
The golden values are transformers', never kqv's.

Needs the bench venv (``pip install torch==2.13.0 transformers sentencepiece``) and
``../shared/data/eng-fra/eng-fra.txt``; says "skipped" without them. Usage:
``python benchmarks/marian_golden.py [--write-golden] [--json]``.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PAIRS = REPO.parent / "shared" / "data" / "eng-fra" / "eng-fra.txt"
GOLDEN_DIR = REPO / "tests" / "data" / "marian-tiny"
GOLDEN_NPZ = REPO / "tests" / "data" / "marian-tiny-golden.npz"
SPM_VOCAB = 250  # pieces per SentencePiece model: a few KB each, ~450 ids once joined
N_SENTENCES = 20
TINY = {"d_model": 16, "encoder_layers": 2, "decoder_layers": 3, "encoder_attention_heads": 4,
        "decoder_attention_heads": 4, "encoder_ffn_dim": 40, "decoder_ffn_dim": 40,
        "max_position_embeddings": 64, "activation_function": "swish", "scale_embedding": True,
        "dropout": 0.1, "attention_dropout": 0.0, "activation_dropout": 0.0}
MAX_LENGTH = 24  # generation_config.json's max_length: the start token and up to 23 new ones
TRAIN_STEPS, TRAIN_BATCH = 300, 32  # brief training, so that sentences end (see write_model)


def read_pairs(path: Path = PAIRS) -> tuple[list[str], list[str]]:
    english, french = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        en, fr = line.split("\t")
        english.append(en)
        french.append(fr)
    return english, french


def pick_sentences(english: list[str], french: list[str], n: int = N_SENTENCES) -> list[tuple[str, str]]:
    """``n`` pairs spread over the first half of the file (sorted by length): short sentences
    and longer ones, none so long that the golden logits (B, T, V) weigh a megabyte."""
    seen, chosen = set(), []
    for i in np.linspace(0, len(english) // 2, n).astype(int):
        while english[i] in seen:
            i += 1
        seen.add(english[i])
        chosen.append((english[i], french[i]))
    return chosen


def train_spm(lines: list[str], normalization: str) -> bytes:
    """A unigram SentencePiece model, as Marian's are, trained in memory."""
    import sentencepiece as spm

    out = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=out, vocab_size=SPM_VOCAB, model_type="unigram",
        normalization_rule_name=normalization, character_coverage=1.0, unk_id=0, bos_id=-1, eos_id=1,
        pad_id=-1, minloglevel=2)
    return out.getvalue()


def write_tokenizer(folder: Path, english: list[str], french: list[str]):
    """source.spm, target.spm, vocab.json and tokenizer_config.json, by MarianTokenizer."""
    import sentencepiece as spm
    from transformers import MarianTokenizer

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "source.spm").write_bytes(train_spm(english, "nmt_nfkc"))
        (tmp / "target.spm").write_bytes(train_spm(french, "identity"))
        vocab = {"</s>": 0, "<unk>": 1}
        for name in ("source.spm", "target.spm"):
            proc = spm.SentencePieceProcessor(model_file=str(tmp / name))
            for i in range(proc.get_piece_size()):
                piece = proc.id_to_piece(i)
                if not (proc.is_unknown(i) or proc.is_control(i)) and piece not in vocab:
                    vocab[piece] = len(vocab)
        vocab["<pad>"] = len(vocab)
        (tmp / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
        tok = MarianTokenizer(str(tmp / "source.spm"), str(tmp / "target.spm"), str(tmp / "vocab.json"),
                              source_lang="en", target_lang="fr")
        tok.save_pretrained(folder)
    return MarianTokenizer.from_pretrained(folder)


def write_model(folder: Path, tok, pairs_en: list[str], pairs_fr: list[str]):
    """A tiny MarianMTModel with unusual weights, briefly trained, written by save_pretrained.

    Straight from a random init, a model this small writes one token over and over and never
    ``</s>``: every sentence runs to max_length and greedy and beam agree, which tests little.
    A few hundred Adam steps on the pairs make it write short sentences that end, at different
    lengths, with beams that disagree with greedy: the rules of generate() are all exercised.
    """
    import torch
    from transformers import GenerationConfig, MarianConfig, MarianMTModel

    vocab = tok.get_vocab()
    pad, eos = vocab["<pad>"], vocab["</s>"]
    cfg = MarianConfig(vocab_size=len(vocab), pad_token_id=pad, decoder_start_token_id=pad,
                       eos_token_id=eos, forced_eos_token_id=eos, **TINY)
    torch.manual_seed(0)
    model = MarianMTModel(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "embed_positions" in name:
                continue  # fixed sinusoids, not weights
            if "layer_norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.3 * torch.randn_like(p))  # LayerNorm gains away from 1
            else:
                p.copy_(0.3 * torch.randn_like(p))  # biases away from 0
        model.final_logits_bias.copy_(0.5 * torch.randn_like(model.final_logits_bias))
    # final_logits_bias is a buffer, not a parameter: training leaves the random one in place
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    pool = rng.integers(0, len(pairs_en), TRAIN_STEPS * TRAIN_BATCH)
    encoded = tok([pairs_en[i] for i in pool], text_target=[pairs_fr[i] for i in pool])  # once: it is slow
    for step in range(TRAIN_STEPS):
        rows = range(step * TRAIN_BATCH, (step + 1) * TRAIN_BATCH)
        src = tok.pad({"input_ids": [encoded["input_ids"][r] for r in rows]}, return_tensors="pt")
        tgt = tok.pad({"input_ids": [encoded["labels"][r] for r in rows]}, return_tensors="pt")
        batch = {"input_ids": src["input_ids"], "attention_mask": src["attention_mask"],
                 "labels": tgt["input_ids"]}
        labels = batch["labels"].masked_fill(batch["labels"] == pad, -100)
        loss = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    model.generation_config = GenerationConfig(
        num_beams=4, max_length=MAX_LENGTH, bad_words_ids=[[pad]], forced_eos_token_id=eos,
        decoder_start_token_id=pad, pad_token_id=pad, eos_token_id=eos)
    model.save_pretrained(folder)
    return MarianMTModel.from_pretrained(folder, attn_implementation="eager").eval(), loss.item()


def transformers_run(model, tok, pairs: list[tuple[str, str]]) -> dict:
    """Token ids, teacher-forced logits and cross-attention, greedy and beam-4 generation."""
    import torch

    english = [en for en, _ in pairs]
    french = [fr for _, fr in pairs]
    batch = tok(english, text_target=french, padding=True, return_tensors="pt")
    labels = batch["labels"]
    pad = model.config.pad_token_id
    tgt_in = torch.full_like(labels, pad)
    tgt_in[:, 1:] = labels[:, :-1]  # shift right behind the start token (<pad> for Marian)
    with torch.no_grad():
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                    decoder_input_ids=tgt_in, output_attentions=True)
        greedy = model.generate(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                num_beams=1, do_sample=False)
        beam = model.generate(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                              num_beams=4, do_sample=False)
    return {
        "english": np.array(english), "french": np.array(french),
        "src": batch["input_ids"].numpy(), "src_mask": batch["attention_mask"].numpy(),
        "tgt_in": tgt_in.numpy(), "tgt_out": labels.numpy(),
        "logits": out.logits.numpy(),
        **{f"cross_att{i}": a.numpy() for i, a in enumerate(out.cross_attentions)},
        "greedy": greedy.numpy(), "beam4": beam.numpy(),
        "greedy_text": np.array(tok.batch_decode(greedy, skip_special_tokens=True)),
        "beam4_text": np.array(tok.batch_decode(beam, skip_special_tokens=True)),
    }


# generate() with other rules than the folder's: renormalize_logits (opus-mt's generation configs
# set it), a length penalty that is not 1 and a max_length short enough that the forced </s> bites
OTHER_RULES = {"num_beams": 4, "renormalize_logits": True, "length_penalty": 0.6, "max_length": 12}


def other_rules_run(folder: Path, src: np.ndarray, src_mask: np.ndarray) -> np.ndarray:
    import torch
    from transformers import MarianMTModel

    model = MarianMTModel.from_pretrained(folder, attn_implementation="eager").eval()
    with torch.no_grad():
        out = model.generate(input_ids=torch.tensor(src), attention_mask=torch.tensor(src_mask),
                             do_sample=False, **OTHER_RULES)
    return out.numpy()


def add_other_rules() -> None:
    """Add transformers' beam-4 ids under OTHER_RULES to the golden arrays already written."""
    with np.load(GOLDEN_NPZ, allow_pickle=False) as g:
        arrays = {k: g[k] for k in g.files}
    arrays["beam4_other_rules"] = other_rules_run(GOLDEN_DIR, arrays["src"], arrays["src_mask"])
    arrays["other_rules"] = np.array(json.dumps(OTHER_RULES))
    np.savez_compressed(GOLDEN_NPZ, **arrays)


# -- kqv's export, read by transformers ------------------------------------------------------------

EXPORT_CKPT = REPO / "tests" / "data" / "translate-tiny.npz"
EXPORT_NPZ = REPO / "tests" / "data" / "marian-export-golden.npz"
KQV = REPO / ".venv" / "bin" / "kqv"  # kqv's own venv: the checkpoint and the export are kqv's
EXPORT_TRAIN = ["--n-embd", "32", "--n-head", "4", "--n-layer", "1", "--batch-size", "32", "--vocab-size",
                "400", "--activation", "silu", "--max-iters", "400", "--eval-interval", "400",
                "--bleu-sentences", "0"]
N_LOGITS = 5  # sentences whose teacher-forced logits are kept (the file stays small)


def train_export_checkpoint(tmp: Path) -> None:
    """A small translation model trained by kqv on the pairs, its Adam state dropped (tests read
    the weights only), written to tests/data/translate-tiny.npz."""
    import subprocess

    sys.path.insert(0, str(REPO))
    from engine.files.checkpoint import load_checkpoint, save_checkpoint

    pairs = tmp / "pairs.txt"
    lines = PAIRS.read_text(encoding="utf-8").splitlines()[:3000]
    pairs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp / "translate.npz"
    subprocess.run([str(KQV), "train", "translate", "--pairs", str(pairs), *EXPORT_TRAIN, "--out", str(out)],
                   check=True, capture_output=True)
    arrays, meta = load_checkpoint(out, "translate")
    save_checkpoint(EXPORT_CKPT, {k: v for k, v in arrays.items() if not k.startswith("adam.")}, meta)


def export_run(tmp: Path, pairs: list[tuple[str, str]]) -> dict:
    """kqv exports tests/data/translate-tiny.npz; transformers loads the folder and translates."""
    import subprocess

    import torch
    from transformers import AutoTokenizer, MarianMTModel

    folder = tmp / "exported"
    subprocess.run([str(KQV), "export", str(EXPORT_CKPT), "--hf", str(folder)], check=True,
                   capture_output=True)
    model, info = MarianMTModel.from_pretrained(folder, output_loading_info=True, attn_implementation="eager")
    model.eval()
    tok = AutoTokenizer.from_pretrained(folder)
    english = [en for en, _ in pairs]
    batch = tok(english, padding=True, return_tensors="pt")
    labels = tok([fr for _, fr in pairs[:N_LOGITS]], padding=True, return_tensors="pt")["input_ids"]
    tgt_in = torch.full_like(labels, model.config.decoder_start_token_id)
    tgt_in[:, 1:] = labels[:, :-1]
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"][:N_LOGITS],
                       attention_mask=batch["attention_mask"][:N_LOGITS], decoder_input_ids=tgt_in).logits
        beam = model.generate(**batch)  # generation_config.json: 4 beams
        greedy = model.generate(**batch, num_beams=1)
    from safetensors import safe_open

    with safe_open(folder / "model.safetensors", "np") as f:
        keys = sorted(f.keys())
    return {"english": np.array(english), "src": batch["input_ids"].numpy(),
            "src_mask": batch["attention_mask"].numpy(), "tgt_in": tgt_in.numpy(), "logits": logits.numpy(),
            "beam4": beam.numpy(), "greedy": greedy.numpy(),
            "beam4_text": np.array(tok.batch_decode(beam, skip_special_tokens=True)),
            "exported_keys": np.array(keys),
            "missing_keys": np.array(sorted(info["missing_keys"]), dtype=str),
            "unexpected_keys": np.array(sorted(info["unexpected_keys"]), dtype=str),
            "mismatched_keys": np.array([str(k) for k in info.get("mismatched_keys", [])], dtype=str)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--write-golden", action="store_true", help="write tests/data/marian-tiny*")
    parser.add_argument("--export", action="store_true",
                        help="only the export check: train tests/data/translate-tiny.npz with kqv (if "
                        "absent), export it, write what transformers makes of it to "
                        "tests/data/marian-export-golden.npz")
    parser.add_argument("--add-other-rules", action="store_true",
                        help="only add generate()'s ids under OTHER_RULES to the golden arrays")
    args = parser.parse_args(argv)
    say = (lambda *a: None) if args.json else print
    try:
        import sentencepiece  # noqa: F401
        import torch
        import transformers
    except ImportError:
        msg = "skipped: needs torch, transformers and sentencepiece (pip install torch==2.13.0 transformers)"
        print(json.dumps({"skipped": msg}) if args.json else msg)
        return 0
    if not PAIRS.is_file():
        msg = f"skipped: {PAIRS} is absent"
        print(json.dumps({"skipped": msg}) if args.json else msg)
        return 0
    torch.set_grad_enabled(False)
    if args.export:
        english, french = read_pairs()
        with tempfile.TemporaryDirectory() as tmp_name:
            if not EXPORT_CKPT.exists():
                train_export_checkpoint(Path(tmp_name))
            ref = export_run(Path(tmp_name), pick_sentences(english, french))
        np.savez_compressed(EXPORT_NPZ, **ref)
        summary = {k: ref[k].tolist() for k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
        summary["beam4_text"] = ref["beam4_text"][:5].tolist()
        say(json.dumps(summary, indent=1, ensure_ascii=False))
        return 0
    if args.add_other_rules:
        add_other_rules()
        say(f"added beam4_other_rules ({OTHER_RULES}) to {GOLDEN_NPZ}")
        return 0
    english, french = read_pairs()
    pairs = pick_sentences(english, french)
    with tempfile.TemporaryDirectory() as tmp_name:
        folder = Path(tmp_name) / "marian-tiny"
        tok = write_tokenizer(folder, english, french)
        vocab = tok.get_vocab()
        with torch.enable_grad():
            model, loss = write_model(folder, tok, english, french)
        ref = transformers_run(model, tok, pairs)
        lengths = [int((row != vocab["<pad>"]).sum()) for row in ref["beam4"]]
        result = {"torch": torch.__version__, "transformers": transformers.__version__,
                  "vocab_size": len(vocab), "train_loss": loss, "src": list(ref["src"].shape),
                  "logits": list(ref["logits"].shape),
                  "beam4_lengths": lengths,
                  "files": {p.name: p.stat().st_size for p in sorted(folder.iterdir())}}
        for en, g, b in list(zip(ref["english"], ref["greedy_text"], ref["beam4_text"], strict=True))[:5]:
            say(f"{en!r}\n  greedy {g!r}\n  beam-4 {b!r}")
        if args.write_golden:
            if GOLDEN_DIR.exists():
                shutil.rmtree(GOLDEN_DIR)
            shutil.copytree(folder, GOLDEN_DIR)
            np.savez_compressed(GOLDEN_NPZ, **ref)
            add_other_rules()
            result["wrote"] = [str(GOLDEN_DIR), str(GOLDEN_NPZ), GOLDEN_NPZ.stat().st_size]
    say(json.dumps(result, indent=1) if not args.json else "")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
