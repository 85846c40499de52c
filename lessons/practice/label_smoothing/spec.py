"""label_smoothing: the decoder's shifted input and target, the label-smoothed loss and its
gradient, graded against the engine (PairIds.batch, which makes every training batch, and
engine.translation.loss)."""

from __future__ import annotations

import numpy as np

from engine.trace import Tracer
from engine.translation.batches import PairIds
from engine.translation.loss import smoothed_cross_entropy_backward, smoothed_cross_entropy_forward
from lessons.practice.exercise import Call, Case, Derive, Exercise, GradCheck, Mistake, Rung
from lessons.practice.gpt_inputs import rng_for

PAD, BOS, EOS = 0, 1, 2
# dims, the target sentences' lengths in pieces (the longest fills T − 1 places), smoothing
SETS = (({"B": 2, "T": 5, "V": 7}, (4, 2), 0.1), ({"B": 3, "T": 4, "V": 11}, (1, 3, 2), 0.2))


def cases() -> list[Case]:
    out = []
    for i, (dims, lengths, eps) in enumerate(SETS):
        rng = rng_for("label_smoothing", i)
        B, T, V = dims["B"], dims["T"], dims["V"]
        sentences = [np.array([BOS, *rng.integers(3, V, n), EOS]) for n in lengths]
        pairs = PairIds(src=sentences, tgt=sentences)
        _, tgt_in, tgt_out = pairs.batch(range(B))  # the engine's shift of a padded batch
        tgt = np.concatenate([tgt_in, tgt_out[:, -1:]], axis=1)  # (B, T + 1): <s> pieces </s> padding
        logits = rng.standard_normal((B * T, V)) * 1.5
        targets = tgt_out.reshape(-1)
        tracer = Tracer(dims=dict(dims))
        tracer.record("tgt_in", tgt_in, "tgt[:, :-1]: <s> and the pieces", "forward", ("B", "T"))
        tracer.record("tgt_out", tgt_out, "tgt[:, 1:]: the pieces and </s>", "forward", ("B", "T"))
        loss, _, probs, n = smoothed_cross_entropy_forward(logits, targets, PAD, eps, tracer)
        smoothed_cross_entropy_backward(probs, targets, PAD, eps, tracer=tracer)
        values = {r.name: r.value for r in tracer}
        values.update(logits=logits, targets=targets, tgt=tgt, smoothing=np.asarray(eps), n=np.asarray(n),
                      # the wrong answers the engine itself gives: no smoothing at all
                      loss_eps0=np.asarray(smoothed_cross_entropy_forward(logits, targets, PAD, 0.0)[0]),
                      dlogits_eps0=smoothed_cross_entropy_backward(probs, targets, PAD, 0.0))
        calls = [Call("shift", {"tgt": tgt}, ["tgt_in", "tgt_out"]),
                 Call("smoothed_cross_entropy_forward",
                      {"logits": logits, "targets": targets, "pad_id": PAD, "smoothing": eps}, "loss"),
                 Call("smoothed_cross_entropy_backward",
                      {"probs": probs, "targets": targets, "pad_id": PAD, "smoothing": eps}, "dlogits")]
        out.append(Case(dims=dict(dims), calls=calls,
                        expected=[tracer[name] for name in ("tgt_in", "tgt_out", "probs", "loss", "dlogits")],
                        values=values))
    return out


def _pad_smoothed_loss(c):
    """The loss when ε is shared by all V − 1 tokens but the target, padding included."""
    p, t = c.value("probs"), c.value("targets")
    eps, V = float(c.value("smoothing")), p.shape[1]
    q = np.full(p.shape, eps / (V - 1))
    q[np.arange(len(t)), t] = 1.0 - eps
    rows = -(q * np.log(p)).sum(axis=1)
    return np.asarray(rows[t != PAD].mean())


MISTAKES = (
    Mistake("the decoder input not shifted",
            "the decoder reads <s> and the pieces, tgt[:, :-1], and must predict the next one at each "
            "place, tgt[:, 1:]. Given tgt[:, 1:] as its input, it sees at every place the token it "
            "has to predict, and learns to copy it.",
            lambda c: {"tgt_in": c.value("tgt")[:, 1:]},
            ("tgt_in = tgt[:, :-1]", "tgt_in = tgt[:, 1:]")),
    Mistake("the target not shifted",
            "the target at place t is the token after the input's, tgt[:, 1:]: position t predicts "
            "token t + 1. tgt[:, :-1] asks every position for the token it already reads.",
            lambda c: {"tgt_out": c.value("tgt")[:, :-1]},
            ("tgt_out = tgt[:, 1:]", "tgt_out = tgt[:, :-1]")),
    Mistake("smoothing mass given to the padding token",
            "ε is shared by the V − 2 tokens that are neither the target nor padding: padding is "
            "never a word to predict, so q gives it 0 (and each other token ε/(V − 2), not ε/(V − 1)).",
            lambda c: {"loss": _pad_smoothed_loss(c)},
            ("q = np.full((N, V), smoothing / (V - 2))\n    q[:, pad_id] = 0.0",
             "q = np.full((N, V), smoothing / (V - 1))")),
    Mistake("no smoothing",
            "the target row q puts 1 − ε on the right token and shares ε among the others; 1 on the "
            "right token is plain cross-entropy.",
            lambda c: {"loss": c.value("loss_eps0")},
            ("q[rows, targets] = 1.0 - smoothing", "q = np.zeros((N, V))\n    q[rows, targets] = 1.0")),
    Mistake("the gradient not divided by n",
            "the loss is a mean over the n real (non-padding) rows, so each row's gradient "
            "(probs − q) is divided by n too.",
            lambda c: {"dlogits": c.value("dlogits") * float(c.value("n"))},
            ("* real[:, None] / real.sum()", "* real[:, None]")),
    Mistake("the gradient against the one-hot target",
            "softmax and the smoothed loss differentiate to probs − q, with q the same smoothed row "
            "as in the loss, not the one-hot target.",
            lambda c: {"dlogits": c.value("dlogits_eps0")},
            ("q_row = np.full((N, V), smoothing / (V - 2))",
             "q_row = np.zeros((N, V))\n    smoothing = 0.0")),
)

DERIVE = Derive(
    text=(
        "Three functions, the last one worked out yourself. shift cuts a padded batch of targets "
        "tgt (B, T + 1), <s> pieces </s> padding, into the decoder's input tgt_in (B, T) and the "
        "targets it must predict, tgt_out (B, T), one place later. smoothed_cross_entropy_forward "
        "turns logits (N, V), N = B·T, into probs = softmax(logits) and the loss: each row whose "
        "target is not padding is compared with q, which puts 1 − ε on the target, 0 on padding and "
        "ε/(V − 2) on each other token; loss = the mean over those n rows of −Σ_v q_v log probs_v. "
        "smoothed_cross_entropy_backward returns dlogits (N, V), the gradient of that loss."
    ),
    rungs=(
        Rung(("tgt_in", "tgt_out"), (
            "Both are slices of the columns of tgt: the decoder reads a token and predicts the one "
            "after it, so the target is the input moved one place on.",
            "tgt_in = tgt[:, :-1] and tgt_out = tgt[:, 1:].",
        )),
        Rung(("probs", "loss"), (
            "The forward is in the docstring. Build q row by row: ε/(V − 2) everywhere, then 1 − ε at "
            "each row's target and 0 in the pad_id column. Keep the rows whose target is not pad_id.",
            "loss = −(q * np.log(probs))[keep].sum() / n, with keep = targets != pad_id and "
            "n = keep.sum(); probs is a softmax along axis=-1 after subtracting the row max.",
        )),
        Rung(("dlogits",), (
            "A padding row is not in the loss: its gradient is 0. A kept row's term is "
            "−Σ_v q_v log p_v: the cross-entropy of the cross_entropy exercise with q in place of a "
            "one-hot. Do it for one v first, then weight by q_v and add.",
            "For one v: ∂(−log p_v)/∂zⱼ = pⱼ − [j = v]. So the row's gradient is "
            "Σ_v q_v·(pⱼ − [j = v]) = pⱼ·Σ_v q_v − qⱼ.",
            "Σ_v q_v = 1, so a kept row's gradient is pⱼ − qⱼ; the mean over the n kept rows "
            "divides by n.",
            "dlogits = (probs − q) / n on the kept rows, and 0 on the padding rows: build q as in "
            "the forward, then set dlogits[targets == pad_id] = 0.",
        )),
    ),
)


EXERCISE = Exercise(
    name="label_smoothing",
    title="shifted targets, the label-smoothed loss and its gradient",
    step="label-smoothing",
    function="smoothed_cross_entropy_forward",
    phase="forward",
    text=(
        "Three functions. shift cuts a padded batch of targets tgt (B, T + 1), <s> pieces </s> "
        "padding, into the decoder's input tgt_in (B, T) and the targets it must predict, tgt_out "
        "(B, T), one place later. smoothed_cross_entropy_forward turns logits (N, V), N = B·T, into "
        "probs = softmax(logits) and the loss: each row whose target is not padding is compared with "
        "q, which puts 1 − ε on the target, 0 on padding and ε/(V − 2) on each other token; loss = "
        "the mean over those n rows of −Σ_v q_v log probs_v. smoothed_cross_entropy_backward returns "
        "dlogits = (probs − q) / n on those rows and 0 on the padding rows."
    ),
    hints=(
        "Shapes: tgt (B, T + 1) gives two (B, T) slices. logits, probs, q and dlogits are all (N, V) "
        "with N = B·T rows, one per target place; targets (N,) is tgt_out flattened; the loss is one number.",
        "Formulas: tgt_in = tgt[:, :−1], tgt_out = tgt[:, 1:]; q_v = 1 − ε at the target, 0 at "
        "padding, ε/(V − 2) elsewhere; loss = (1/n) Σ_real rows −Σ_v q_v log p_v; "
        "dlogits = (p − q)/n on real rows, 0 on padding rows.",
        "Near-code: q = np.full((N, V), eps / (V - 2)); q[:, pad_id] = 0; "
        "q[np.arange(N), targets] = 1 - eps; "
        "real = targets != pad_id; loss = -(q * np.log(probs)).sum(axis=1)[real].mean(); "
        "dlogits = (probs - q) * real[:, None] / real.sum()",
    ),
    mistakes=MISTAKES,
    cases=cases,
    gradcheck=GradCheck("smoothed_cross_entropy_forward", (("logits", "dlogits"),)),
    derive=DERIVE,
)
