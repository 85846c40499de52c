"""Verdicts: each experiment's explanation, written from the numbers its run measured.

Every verdict takes ``{label: VariantResult}`` and builds its sentences from the metrics:
the comparisons ("lower", "about the same") are decided by the numbers, with a tolerance
about the size of the run-to-run noise, so the text never claims what the run did not show.
Facts that hold whatever the run (σ′ ≤ 0.25, q²·k² ≥ 0) are stated as such.
The translation Transformer's verdicts are in :mod:`kqv_cli.lab.translation_verdicts`, which
shares this module's comparisons.
"""

from __future__ import annotations

import math
from collections.abc import Callable

LOSS_TOL = 0.03  # nats: about the noise of a validation loss over 20 batches
ACC_TOL = 0.005  # half a percentage point of accuracy


def compare(a: float, b: float, tol: float) -> str:
    """How ``a`` stands to ``b``: "lower than", "higher than" or "about the same as"."""
    if a < b - tol:
        return "lower than"
    if a > b + tol:
        return "higher than"
    return "about the same as"


def needs(*keys: str) -> Callable:
    """Wrap a verdict: when a variant has no numbers (it diverged), say so instead of comparing."""

    def wrap(verdict):
        def checked(results) -> str:
            broken = [r for r in results.values() if any(r.metrics.get(k) is None for k in keys)]
            if not broken:
                return verdict(results)
            lines = [f"{r.label} diverged ({r.diverged or 'no numbers'})." for r in broken]
            ok = [r for r in results.values() if r not in broken]
            if ok:
                lines.append("The others: " + "; ".join(
                    f"{r.label} {keys[-1].replace('_', ' ')} {r.metrics[keys[-1]]:.3f}" for r in ok) + ".")
            lines.append("Steps that blow up the loss are a verdict too: try a smaller learning rate.")
            return " ".join(lines)

        checked.__name__ = verdict.__name__
        checked.__doc__ = verdict.__doc__
        return checked

    return wrap


def _m(r, key):
    return r.metrics[key]


# -- the GPT ---------------------------------------------------------------------------------


@needs("train_loss", "val_loss")
def squared_dot(r) -> str:
    s, q = r["standard"], r["squared"]
    how = compare(_m(q, "val_loss"), _m(s, "val_loss"), LOSS_TOL)
    text = (f"After {s.config['iters']} iterations the squared dot product reaches a validation loss of "
            f"{_m(q, 'val_loss'):.3f}, {how} the standard {_m(s, 'val_loss'):.3f}. "
            "Squaring loses the signs: q²·k² is never negative, so a query cannot push a key away with a "
            "negative score, and a key pointing opposite to the query scores as high as one "
            "pointing along it. ")
    if how == "higher than":
        text += "With fewer ways to tell keys apart, attention learns less in the same number of steps."
    elif how == "about the same as":
        text += ("At this budget that costs little: the values and the MLP still carry most of what the "
                 "model has learned so far.")
    else:
        text += "Here it did better all the same; a longer run (--iters) shows whether that lasts."
    return text + (" (The other what-if about scores, a reversed dot product k · q, needs no run: the dot "
                   "product is symmetric, and the two projections that make q and k are both learned, so "
                   "swapping their names gives the same model.)")


@needs("entropy", "val_loss")
def no_scale(r) -> str:
    s, u = r["scaled"], r["unscaled"]
    hs = s.config["n_embd"] // s.config["n_head"]
    es, eu, uni = _m(s, "entropy"), _m(u, "entropy"), _m(s, "entropy_uniform")
    text = (f"With hs = {hs}, q·k has a spread about √hs = {math.sqrt(hs):.0f} times that of the scaled "
            f"scores. The attention entropy is {eu:.2f} nats without the scale and {es:.2f} with it "
            f"(rows spread evenly over the visible keys would have {uni:.2f}). ")
    if eu < es - 0.1:
        text += ("Without the scale softmax turns the wide scores into nearly one-hot rows: each query "
                 "looks at one key and ignores the rest, and an ignored key gets almost no gradient. ")
    elif eu > es + 0.1:
        text += "Surprisingly the unscaled attention is the flatter one in this run. "
    else:
        text += "Here the two are about as peaked, so the scores stayed small even unscaled. "
    how = compare(_m(u, "val_loss"), _m(s, "val_loss"), LOSS_TOL)
    text += (f"The validation loss is {_m(u, 'val_loss'):.3f} unscaled, {how} {_m(s, 'val_loss'):.3f} "
             "scaled")
    if how == "higher than":
        text += ": the saturated softmax slowed learning."
    else:
        text += ("; in a model this small that did not hurt yet, but the spread grows with hs, which is "
                 "why every transformer divides by √hs.")
    return text


@needs("train_loss", "val_loss", "next_loss")
def flipped_mask(r) -> str:
    c, f, n = r["causal"], r["flipped"], r["none"]
    text = (f"Training loss: causal {_m(c, 'train_loss'):.2f}, flipped {_m(f, 'train_loss'):.2f}, no mask "
            f"{_m(n, 'train_loss'):.2f}. ")
    cheaters = [v for v in (f, n) if _m(v, "train_loss") < _m(c, "train_loss") - 0.3]
    if cheaters:
        names = " and ".join("the flipped mask" if v is f else "no mask" for v in cheaters)
        text += (f"With {names} a position may look at later characters, and the character it must predict "
                 "sits right there at t+1: the model learns to copy it, and the loss collapses. The "
                 "validation windows leak the same way (val loss "
                 f"{', '.join(format(_m(v, 'val_loss'), '.2f') for v in cheaters)}). ")
        names = {"flipped": "the flipped model", "none": "the unmasked model"}
        parts = [f"{names.get(v.label, v.label)}'s {_m(v, 'next_loss'):.2f} "
                 f"({compare(_m(v, 'next_loss'), _m(c, 'next_loss'), LOSS_TOL)} the causal model's "
                 f"{_m(c, 'next_loss'):.2f})" for v in cheaters]
        text += ("But generating reads only the last position, which has nothing after it to copy. There "
                 f"the loss is {' and '.join(parts)}. ")
        if all(v.metrics.get("words") is not None for v in (c, *cheaters)):
            counts = " and ".join(f"{v.metrics['words']:.1f}" for v in cheaters)
            text += (f"Their samples hold {counts} real words per 100 characters, against "
                     f"{c.metrics['words']:.1f} for the causal model. ")
        text += ("A low training loss proves nothing if the model could see the answer: the causal mask "
                 "is what makes training match generation.")
    else:
        text += (f"At this budget neither leaky mask has learned to copy the next character yet "
                 f"(causal val loss {_m(c, 'val_loss'):.2f}); run longer (--iters) to watch the "
                 "loss collapse.")
    return text


@needs("val_loss")
def positions(r) -> str:
    l, s, n = r["learned"], r["sinusoidal"], r["none"]
    lv, sv, nv = _m(l, "val_loss"), _m(s, "val_loss"), _m(n, "val_loss")
    text = f"Validation loss: learned {lv:.3f}, sinusoidal {sv:.3f}, none {nv:.3f}. "
    how = compare(nv, lv, LOSS_TOL)
    if how == "higher than":
        text += (f"Without positions the model loses {nv - lv:.2f}: attention mixes the visible "
                 "characters as "
                 "a set, so 'dog bites man' and 'man bites dog' look alike; only the causal mask "
                 "gives a hint of "
                 "order (row t averages over t+1 keys). ")
    else:
        text += (f"Without positions the loss is {how} learned positions: at this budget the model leans on "
                 "which characters are present more than on their order. ")
    how = compare(sv, lv, LOSS_TOL)
    if how == "higher than":
        text += ("The fixed sine waves did worse. Their entries run from −1 to 1 while the token rows start "
                 "near 0.02, so the engine multiplies the token rows by √C first, as the 2017 paper does; "
                 "even so the clock is fixed, where a learned table (GPT-2's) is tuned to the text along "
                 "with everything else.")
    else:
        text += (f"The fixed sine waves did {how.replace(' as', '').replace(' than', '')} learned "
                 "positions here.")
    return text


@needs("val_loss")
def heads(r) -> str:
    a, b = r["4 heads"], r["1 head"]
    how = compare(_m(b, "val_loss"), _m(a, "val_loss"), LOSS_TOL)
    text = (f"One head of 64 channels reaches a validation loss of {_m(b, 'val_loss'):.3f}, {how} four heads "
            f"of 16 ({_m(a, 'val_loss'):.3f}). Both have the same parameters and the same "
            "arithmetic; four heads "
            "give each query four separate softmaxes, so it can take from four places at once (the previous "
            "character, the start of the word...). ")
    if how == "about the same as":
        text += ("In this small model and short run that freedom did not show in the loss; the difference "
                 "is expected to grow with longer contexts and longer training.")
    elif how == "higher than":
        text += "Here that freedom already pays: one softmax per query is a bottleneck."
    else:
        text += "Here the single head did better; bigger heads have larger dot products to compare with."
    return text


@needs("val_loss")
def no_residual(r) -> str:
    a, b = r["residual"], r["no residual"]
    how = compare(_m(b, "val_loss"), _m(a, "val_loss"), LOSS_TOL)
    uni = b.metrics.get("unigram_loss")
    text = (f"With {a.config['n_layer']} blocks, the model without residuals reaches a validation loss of "
            f"{_m(b, 'val_loss'):.3f}, {how} {_m(a, 'val_loss'):.3f} with them. ")
    if how == "higher than":
        if uni is not None and _m(b, "val_loss") > uni - 0.1:
            text += (f"That is no better than guessing from letter frequencies alone ({uni:.2f}): the "
                     "model barely learned. ")
        text += ("With x + f(x) the gradient reaches every block directly (the derivative of x is "
                 "1); without "
                 "it, it must pass back through every later block's layers, and at initialisation those "
                 "shrink it, so the first blocks hardly learn.")
    else:
        text += "In this run the residuals made little difference; deeper models depend on them more."
    return text


@needs("val_loss")
def no_layernorm(r) -> str:
    a, b = r["layernorm"], r["no layernorm"]
    how = compare(_m(b, "val_loss"), _m(a, "val_loss"), LOSS_TOL)
    text = (f"Without LayerNorm the validation loss is {_m(b, 'val_loss'):.3f}, {how} "
            f"{_m(a, 'val_loss'):.3f} "
            "with it. ")
    if how == "higher than":
        text += ("LayerNorm rescales every position to mean 0 and variance 1 before each attention and MLP; "
                 "without it the activations' size drifts from block to block, and with it the size of every "
                 "gradient, so one learning rate suits the layers less well and training is slower.")
    else:
        text += "At this depth and budget the activations stayed tame enough without it."
    return text


# -- the digit net ---------------------------------------------------------------------------


def _acc(r, key="accuracy") -> str:
    return f"{r.metrics[key]:.1%}"


@needs("accuracy")
def relu(r) -> str:
    s, a, b = r["sigmoid"], r["relu"], r["relu, η = 0.5"]
    epochs = s.config["epochs"]
    text = (f"After {epochs} epoch{'s' * (epochs > 1)}: sigmoid {_acc(s)}, ReLU {_acc(a)} at the book's "
            f"η = {a.config['eta']:g}, ReLU {_acc(b)} at η = {b.config['eta']:g}. ")
    how = compare(_m(a, "accuracy"), _m(s, "accuracy"), ACC_TOL)
    if how == "lower than":
        text += ("At the same η ReLU does worse: its slope is 1 wherever it is active, where σ′ is "
                 "never above "
                 "0.25, so the same η makes much bigger steps. ")
        if _m(b, "accuracy") > _m(a, "accuracy") + ACC_TOL:
            text += (f"With a smaller η it recovers to {_acc(b)}: the step size was the problem, not "
                     "the function.")
        else:
            text += "A smaller η did not fix it in this run."
    else:
        text += (f"ReLU is {how.replace(' than', '').replace(' as', '')} sigmoid here: a ReLU never "
                 "saturates "
                 "on the positive side, where σ flattens and σ′ goes to 0.")
    return text


@needs("first_tenth", "accuracy")
def cross_entropy(r) -> str:
    q, c = r["quadratic"], r["cross-entropy"]
    text = (f"At η = {q.config['eta']:g} for both: after a tenth of the first epoch the quadratic cost gets "
            f"{_acc(q, 'first_tenth')} of the validation digits right and cross-entropy "
            f"{_acc(c, 'first_tenth')}; "
            f"after one epoch {_acc(q, 'epoch1')} against {_acc(c, 'epoch1')}; at the end {_acc(q)} against "
            f"{_acc(c)}. ")
    if _m(c, "first_tenth") > _m(q, "first_tenth") + ACC_TOL:
        text += ("Cross-entropy learns faster at the start. With the quadratic cost the output error is "
                 "(a − y) ⊙ σ′(z), and σ′ is at most 0.25 and nearly 0 when an output neuron is saturated: a "
                 "badly wrong neuron learns slowest, the learning slowdown. The same sigmoid outputs "
                 "with the cross-entropy cost have an output error of just a − y: σ′ cancels out, and "
                 "the more wrong, the bigger the step.")
    else:
        text += ("The learning slowdown did not show at this budget: the outputs were not saturated enough "
                 "for σ′ to hold the quadratic cost back.")
    return text


@needs("accuracy")
def learning_rate(r) -> str:
    lo, mid, hi = r["η = 0.1"], r["η = 3.0"], r["η = 100"]
    text = f"Final accuracy: η = 0.1 {_acc(lo)}, η = 3.0 {_acc(mid)}, η = 100 {_acc(hi)}. "
    if _m(lo, "accuracy") < _m(mid, "accuracy") - ACC_TOL:
        text += ("η = 0.1 takes steps 30 times smaller and is still climbing "
                 f"({_acc(lo, 'first_tenth')} after "
                 f"a tenth of an epoch, against {_acc(mid, 'first_tenth')}). ")
    else:
        text += "η = 0.1 kept up with η = 3.0 in this run. "
    if _m(hi, "accuracy") < _m(mid, "accuracy") - ACC_TOL:
        text += "η = 100 overshoots"
        cost = hi.metrics.get("train_cost")
        if cost is not None and abs(cost - 0.5) < 0.02:
            text += (f": its cost is stuck at {cost:.3f}, which is what ½‖a − y‖² gives when every "
                     "output is 0. "
                     "The first steps pushed the weighted inputs so far that the sigmoids saturated, σ′ ≈ 0, "
                     "and learning stopped")
        if _m(hi, "accuracy") < 0.15:
            text += ", at about chance (10%)"
        text += ". The best η is big enough to move and small enough not to jump past the valley."
    else:
        text += "Even η = 100 learned here."
    return text


@needs("accuracy")
def hidden_neurons(r) -> str:
    a, b = r["30 hidden"], r["100 hidden"]

    def params(sizes):
        return sum(i * o + o for i, o in zip(sizes[:-1], sizes[1:], strict=True))

    how = compare(_m(b, "accuracy"), _m(a, "accuracy"), ACC_TOL)
    ratio = b.seconds / a.seconds if a.seconds > 0 and not (a.cached or b.cached) else None
    text = (f"100 hidden neurons reach {_acc(b)}, "
            f"{how.replace('lower', 'worse').replace('higher', 'better')} "
            f"{_acc(a)} with 30, with {params(b.config['sizes']):,} parameters instead of "
            f"{params(a.config['sizes']):,}")
    text += f" and {ratio:.1f}x the training time. " if ratio else ". "
    if how == "higher than":
        text += "More hidden neurons can each detect another stroke or shape, so more digits come out right."
    else:
        text += "The extra neurons did not pay off at this budget."
    return text
