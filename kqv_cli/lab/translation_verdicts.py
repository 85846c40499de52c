"""Verdicts of the translation Transformer's what-ifs, written from the numbers each run measured.

They compare with :func:`kqv_cli.lab.verdicts.compare` and its tolerances, as the GPT's and the
digit net's verdicts do, and add one for BLEU. A variant that learnt no more than the target
pieces' frequencies is said to have not trained, whatever its other numbers.
"""

from __future__ import annotations

from kqv_cli.lab.verdicts import LOSS_TOL, _m, compare

BLEU_TOL = 1.0  # BLEU points: about the noise between two seeds of the lab's small runs
LEARNT = 0.25  # nats below the frequency guess: a variant that got no further has not learnt


def _trained(r) -> bool:
    """Whether a variant learnt anything beyond the target pieces' frequencies."""
    m = r.metrics
    return m.get("val_loss") is not None and m["val_loss"] < m["unigram_loss"] - LEARNT


def _tx(r) -> str:
    """"post-LN: validation loss 2.61, BLEU 3.6" (or how it diverged)."""
    if r.metrics.get("val_loss") is None:
        return f"{r.label} diverged ({r.diverged or 'no numbers'})"
    return f"{r.label}: validation loss {_m(r, 'val_loss'):.2f}, BLEU {_m(r, 'bleu'):.1f}"


def _first_example(r) -> str:
    """The translation of the first example sentence, without its reference."""
    return r.sample.split("\n")[0].split(" → ")[-1].split("   (reference")[0] if r.sample else ""


def _bleu_compare(a, b) -> str:
    return compare(_m(a, "bleu"), _m(b, "bleu"), BLEU_TOL)


def tx_norm_warmup(r) -> str:
    post, post_cold, pre, pre_cold = (r["post-LN"], r["post-LN, no warm-up"], r["pre-LN"],
                                      r["pre-LN, no warm-up"])
    lines = ["; ".join(_tx(v) for v in (post, post_cold, pre, pre_cold)) + "."]
    stuck = [v for v in (post, post_cold, pre, pre_cold) if not _trained(v)]
    for v in stuck:
        if v.metrics.get("val_loss") is None:
            lines.append(f"{v.label} did not train: the loss blew up.")
        else:
            lines.append(f"{v.label} did not train: its validation loss {_m(v, 'val_loss'):.2f} is no better "
                         f"than guessing each French piece by its frequency ({_m(v, 'unigram_loss'):.2f}).")
    if not stuck:
        lines.append("All four learnt something (each beat the frequency guess of "
                     f"{_m(post, 'unigram_loss'):.2f}).")
    if _trained(post) and _trained(pre):
        how = compare(_m(pre, "val_loss"), _m(post, "val_loss"), LOSS_TOL)
        lines.append(f"With warm-up, pre-LN's validation loss is {how} post-LN's.")
    if not _trained(post_cold) and _trained(pre_cold):
        lines.append("Without warm-up only post-LN failed, as Xiong et al. (2020) explain: post-LN "
                     "normalises the residual stream itself, so every gradient to the lower layers passes "
                     "through each LayerNorm, and at the start the steps near the output are large; a "
                     "full learning rate on step 1 throws the model somewhere it does not climb out of. "
                     "Pre-LN keeps a clean residual path from the loss to the embeddings, which is why "
                     "GPT-2 and most models since use it and can skip or shorten the warm-up.")
    elif _trained(post_cold) and _trained(pre_cold):
        lines.append("Both trained without warm-up in this run; the warm-up still changed where they got "
                     f"to (post-LN {_m(post_cold, 'val_loss'):.2f} without it against "
                     f"{_m(post, 'val_loss'):.2f} with it).")
    return " ".join(lines)


def tx_no_cross(r) -> str:
    cross, none = r["cross-attention"], r["no cross-attention"]
    if none.metrics.get("val_loss") is None or cross.metrics.get("val_loss") is None:
        return " ".join(_tx(v) + "." for v in (cross, none))
    lines = [f"{_tx(cross)}; {_tx(none)}.",
             f"Without cross-attention the BLEU is {_bleu_compare(none, cross)} with it, and the validation "
             f"loss {compare(_m(none, 'val_loss'), _m(cross, 'val_loss'), LOSS_TOL)} it."]
    same = _m(none, "distinct") < 0.5 * _m(cross, "distinct")
    lines.append(f"Distinct translations: {_m(none, 'distinct'):.1%} of the test sentences without it, "
                 f"{_m(cross, 'distinct'):.1%} with it. "
                 + ("That tells why: nothing in the decoder reads the English, so greedy decoding writes the "
                    "same French whatever the source, one of the likeliest sentences of the training set"
                    + (f" ({_first_example(none)!r})." if none.sample else ".")
                    if same else "Nothing in the decoder reads the English, so the French it writes cannot "
                    "depend on the source."))
    lines.append("The decoder alone is a language model of French: it learns which piece follows which "
                 f"(its loss {_m(none, 'val_loss'):.2f} is below the frequency guess "
                 f"{_m(none, 'unigram_loss'):.2f}), but only cross-attention lets what it writes depend on "
                 "the source.")
    return " ".join(lines)


def tx_no_positions(r) -> str:
    pos, bag = r["positions"], r["no positions"]
    if bag.metrics.get("val_loss") is None or pos.metrics.get("val_loss") is None:
        return " ".join(_tx(v) + "." for v in (pos, bag))
    lines = [f"{_tx(pos)}; {_tx(bag)}.",
             f"Without positions in the encoder the validation loss is "
             f"{compare(_m(bag, 'val_loss'), _m(pos, 'val_loss'), LOSS_TOL)} with them and the BLEU "
             f"{_bleu_compare(bag, pos)} with them."]
    lines.append("Attention itself ignores order: with no position code, the memory of \"the dog likes the "
                 "cat\" holds the same vectors as that of \"the cat likes the dog\", only in another order, "
                 "and cross-attention, a weighted sum over the source, cannot tell them apart: who does "
                 "what to whom becomes a guess. The decoder keeps its own positions, so the French still "
                 "comes out in French order.")
    if _m(bag, "val_loss") <= _m(pos, "val_loss") + LOSS_TOL:
        lines.append("In this run the bag of words lost nothing by the loss: in sentences this short the "
                     "words alone mostly decide the French, and a model this small, trained this briefly, "
                     "reads little of the order anyway. The built-in pairs, this experiment's default, are "
                     "made so that order decides.")
    return " ".join(lines)


def tx_smoothing(r) -> str:
    smooth, sharp = r["ε = 0.1"], r["ε = 0"]
    if smooth.metrics.get("val_loss") is None or sharp.metrics.get("val_loss") is None:
        return " ".join(_tx(v) + "." for v in (smooth, sharp))
    ppl = compare(_m(smooth, "perplexity"), _m(sharp, "perplexity"), 0.05 * _m(sharp, "perplexity"))
    bleu = _bleu_compare(smooth, sharp)
    lines = [f"With ε = 0.1 the validation perplexity is {_m(smooth, 'perplexity'):.1f} (loss "
             f"{_m(smooth, 'val_loss'):.2f}), {ppl} {_m(sharp, 'perplexity'):.1f} (loss "
             f"{_m(sharp, 'val_loss'):.2f}) with ε = 0; the BLEU {_m(smooth, 'bleu'):.1f} is {bleu} "
             f"{_m(sharp, 'bleu'):.1f}."]
    paper = ppl == "higher than" and bleu == "higher than"
    if paper:
        lines.append("That is the paper's finding: smoothing hurts perplexity, since the model learns to "
                     "keep some probability off the right piece, but the translations are better.")
    else:
        lines.append("The paper found smoothing raised perplexity and BLEU together; this small, short run "
                     + ("shows the higher perplexity but not the better BLEU"
                        if ppl == "higher than" else "does not show the higher perplexity")
                     + " (a BLEU difference under one point is read as noise here).")
    lines.append("The training losses are not comparable: with ε = 0.1 even a perfect model pays for the "
                 "0.1 it must spread over the other pieces.")
    return " ".join(lines)


def tx_beam(r) -> str:
    greedy, beam = r["greedy"], r["beam 4"]
    if greedy.metrics.get("val_loss") is None:
        return f"{_tx(greedy)}."
    how = _bleu_compare(beam, greedy)
    lines = [f"One trained model (validation loss {_m(greedy, 'val_loss'):.2f}): greedy decoding scores BLEU "
             f"{_m(greedy, 'bleu'):.1f}, a beam of 4 {_m(beam, 'bleu'):.1f}, {how} greedy, at "
             f"{_m(beam, 'ms_per_sentence'):.0f} ms a sentence against {_m(greedy, 'ms_per_sentence'):.0f}."]
    lines.append("Greedy keeps the likeliest piece at each step and never looks back; the beam keeps the 4 "
                 "likeliest partial translations and ranks the finished ones by their log-probability per "
                 "piece (the length penalty), so a start that looked second-best can win. "
                 + ("Here that paid." if how == "higher than" else
                    "Here it did not pay: a small model's best sentence by probability is not always closer "
                    "to the reference, and on short sentences the two searches often agree."))
    return " ".join(lines)
