"""Step script of lessons/training.md: the attention lesson's word model, trained and sampled.

The model is the attention lesson's one-block GPT (sinusoidal positions) with a longer context,
``block_size`` = 32, so a KV cache has room after a prompt of T ≤ 16 words. It is trained for
``ITERS`` iterations the way ``kqv train gpt`` trains (engine.optim: warm-up then cosine,
global-norm clipping at 1.0, AdamW with weight decay on the 2-D weights), on random windows of
the lesson's small text. The model, its text and its training live in
:mod:`lessons.steps.word_model`, which both lessons import. The runs:

* ``train``: a traced forward at initialisation, then, after training, a traced forward and
  backward and the next AdamW step of c_attn.w (on copies, so the trained model that
  ``generate`` samples from stays as it was);
* ``bias``: the same next step for the bias c_attn.b (no weight decay);
* ``generate``: the trained model's last-position logits, two traced draws (plain, and with
  temperature and top-k), a generated text, and the causal mask's promise checked;
* ``kv``: one traced step of generation with a KV cache, after the prompt;
* ``init``: a fresh model and a fresh digit net, to measure the scale of their weights and of
  the activations;
* ``bigram``: the counting baseline of :mod:`engine.gpt.bigram` on the lesson's words, and on
  Tiny Shakespeare's training and validation text when it is on this machine.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from engine.digits.network import Network
from engine.gpt.bigram import bigram_fit, bigram_loss
from engine.gpt.model import GPT, GPTConfig
from engine.gpt.sampling import sample_next
from engine.optim import AdamW, adamw_update, lr_at
from engine.trace import NO_TRACE, Tracer
from lessons.model import Extra, TraceFn, TraceRun
from lessons.steps import word_model
from lessons.steps.word_model import CONTEXT, GRAD_CLIP, ITERS, LR, MIN_LR, WARMUP, WEIGHT_DECAY

EXTRAS = {"bigram", "loss_init", "loss_curve", "adamw", "adamw_decay", "schedule", "sampling", "topk", "loop",
          "causal", "kv_cache", "scale"}
TEMPERATURE, TOP_K = 0.7, 5
NEW_WORDS = 24  # generated in the "loop" step: with T = 12, the context passes block_size


full_dims = word_model.trained_dims  # the step-script contract: the trained model's dims


def _state(model: GPT, opt: AdamW, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The optimizer's m and v for one parameter, shaped like it."""
    part, shape = model.flat_slice(name), model.params[name].shape
    return opt.m[part].reshape(shape), opt.v[part].reshape(shape)


def run_train(dims: dict, seed: int) -> TraceRun:
    d = word_model.trained_dims(dims)
    B, T, V = d["B"], d["T"], d["V"]
    idx, targets, words = word_model.batch(B, T)
    tracer = Tracer(dims=d)
    fresh = word_model.untrained(d, seed)
    tracer.section("at initialisation")
    _, loss0 = fresh.forward(idx, targets, tracer=tracer)
    model, opt, history = word_model.trained(B, T, d["C"], d["nh"], seed)
    loss, norm = _next_step(model, opt, "h0.attn.c_attn.w", idx, targets, tracer)
    t = opt.t + 1
    extras: dict[str, Extra] = {
        "loss_init": {"notes": [
            f"loss of the untrained model on this batch: {loss0:.3f}; ln V = ln {V} = {math.log(V):.3f}",
            f"e^−loss = {math.exp(-loss0):.4f}, about 1/V = {1 / V:.4f}: every word gets about the same "
            "probability"]},
        "loss_curve": {"series": ("training loss per iteration", [(i, l) for i, l, _, _ in history],
                                  "iteration", "loss"),
                       "notes": [f"after {ITERS} iterations the loss on this batch is {loss:.3f}: the right "
                                 f"next word gets probability e^−{loss:.2f} = {math.exp(-loss):.3f} (a "
                                 "geometric mean over the B·T positions)",
                                 f"perplexity e^{loss:.2f} = {math.exp(loss):.1f}: as unsure as a choice "
                                 f"among about {math.exp(loss):.1f} equally likely words (of V = {V}; the "
                                 f"untrained model's was {math.exp(loss0):.1f})"]},
        "adamw": {"notes": _adamw_notes(model, opt, t)[:1]},
        "schedule": {"series": ("learning rate per iteration (warm-up, then cosine)",
                                [(i, r) for i, _, r, _ in history], "iteration", "lr"),
                     "notes": _clip_notes(history, norm)},
    }
    return TraceRun(tracer, d, notes=[f"one-block word GPT (seed {seed}), block_size {CONTEXT}, trained "
                                      f"{ITERS} iterations on the lesson's sentences"], extras=extras,
                    tokens=words)


def _next_step(model: GPT, opt: AdamW, name: str, idx, targets, tracer: Tracer) -> tuple[float, float]:
    """Trace the trained model's forward and backward on the batch, then the next AdamW step of
    one parameter, on copies of it and of its m and v (the cached model must not move).
    Returns the loss and the gradient's global norm before clipping."""
    tracer.section(f"after {ITERS} training iterations")
    _, loss = model.forward(idx, targets, tracer=tracer)
    model.backward(tracer)
    norm = math.sqrt(float(np.dot(model.flat_grads, model.flat_grads)))
    tracer.section(f"the next AdamW step of {name} (on copies)")
    m, v = _state(model, opt, name)
    p, g = model.params[name], model.grads[name] * min(1.0, GRAD_CLIP / (norm + 1e-6))
    decay = WEIGHT_DECAY if p.ndim >= 2 else 0.0  # 2-D weights only, as AdamW.step does
    adamw_update(p.copy(), g, m.copy(), v.copy(), opt.t + 1, lr_at(ITERS, LR, MIN_LR, WARMUP, ITERS),
                 opt.beta1, opt.beta2, opt.eps, decay, tracer=tracer)
    return loss, norm


def run_bias(dims: dict, seed: int) -> TraceRun:
    """The same next step for the bias c_attn.b: no weight decay."""
    d = word_model.trained_dims(dims)
    idx, targets, words = word_model.batch(d["B"], d["T"])
    model, opt, _ = word_model.trained(d["B"], d["T"], d["C"], d["nh"], seed)
    tracer = Tracer(dims=d)
    _next_step(model, opt, "h0.attn.c_attn.b", idx, targets, tracer)
    return TraceRun(tracer, d, notes=["the trained model's next AdamW step, for a bias"],
                    extras={"adamw_decay": {"notes": _adamw_notes(model, opt, opt.t + 1)[1:]}}, tokens=words)


def _adamw_notes(model: GPT, opt: AdamW, t: int) -> list[str]:
    b1, b2 = opt.beta1, opt.beta2
    n = model.num_params
    gpt2 = 124_439_808
    return [
        f"bias correction at step 1: m/(1 − β₁) = m × {1 / (1 - b1):.0f}, v/(1 − β₂) = v × "
        f"{1 / (1 - b2):.0f}; at step {t}: × {1 / (1 - b1 ** t):.3f} and × {1 / (1 - b2 ** t):.3f}",
        f"weight decay λ = {opt.weight_decay} on the first {model.n_decay:,} of {n:,} numbers (the 2-D "
        "weights); biases and LayerNorm gains are not decayed",
        f"memory: parameters, gradients, m and v are 4 arrays of {n:,} float32 = {4 * 4 * n:,} bytes; "
        f"for GPT-2 small ({gpt2:,} parameters) that is {4 * 4 * gpt2 / 1e9:.2f} GB before any activation",
    ]


def _clip_notes(history, norm: float) -> list[str]:
    norms = np.array([g for *_, g in history])
    clipped = int(np.sum(norms > GRAD_CLIP))
    first = ", ".join(f"{g:.2f}" for g in norms[:5])
    big = int(np.argmax(norms))
    return [f"global gradient norm over all {len(history)} iterations: clipped (above {GRAD_CLIP}) in "
            f"{clipped}; the first five: {first}",
            f"typical ‖g‖ (the median): {np.median(norms):.2f}; the largest: {norms[big]:.2f}, at iteration "
            f"{big}, {norms[big] / np.median(norms):.1f} times the median",
            f"now, after training: ‖g‖ = {norm:.3f}",
            f"lr: {history[0][2]:.4f} at iteration 0, {LR} at the end of warm-up ({WARMUP}), "
            f"{history[-1][2]:.4f} at the last"]


def run_generate(dims: dict, seed: int) -> TraceRun:
    d = word_model.trained_dims(dims)
    B, T = d["B"], d["T"]
    idx, _, words = word_model.batch(B, T)
    model, _, _ = word_model.trained(B, T, d["C"], d["nh"], seed)
    vocab = word_model.VOCAB
    tracer = Tracer(dims=d)
    tracer.section("the prompts, one forward pass")
    logits, _ = model.forward(idx, tracer=tracer)
    last = logits[:, -1, :]  # (B, V): the only row generation reads
    rng = np.random.default_rng(seed)
    tracer.section("draw the next word of row 0: temperature 1, no top-k")
    plain = sample_next(last[0], 1.0, None, rng, tracer)
    p_plain = tracer["p"].value
    tracer.section(f"draw again: temperature {TEMPERATURE}, top-k {TOP_K}")
    sharp = sample_next(last[0], TEMPERATURE, TOP_K, rng, tracer)
    p_sharp = tracer["p"].value

    def top(p):
        order = np.argsort(p)[::-1][:TOP_K]
        return ", ".join(f"{vocab[i]} {p[i]:.3f}" for i in order)

    extras: dict[str, Extra] = {
        "sampling": {"notes": [f"row 0 ends '{' '.join(words[0][-3:])}'; last-position logits (B, V) = "
                               f"{last.shape}", f"top {TOP_K} at temperature 1: {top(p_plain)}",
                               f"drawn: {vocab[plain]!r}"]},
        "topk": {"notes": [f"top {TOP_K} at temperature {TEMPERATURE}, top-k {TOP_K}: {top(p_sharp)}",
                           f"the other {len(vocab) - TOP_K} words now have probability exactly 0; drawn: "
                           f"{vocab[sharp]!r}"]},
        "loop": {"notes": _loop_notes(model, idx[0], seed)},
        "causal": {"notes": _causal_notes(model, idx)},
    }
    return TraceRun(tracer, d, notes=[f"the model trained in the previous steps (seed {seed})"],
                    extras=extras, tokens=words)


def run_kv(dims: dict, seed: int) -> TraceRun:
    d = word_model.trained_dims(dims)
    B, T = d["B"], d["T"]
    idx, _, words = word_model.batch(B, T)
    model, _, _ = word_model.trained(B, T, d["C"], d["nh"], seed)
    tracer = Tracer(dims={**d, "t": T + 1})
    cache = model.kv_cache(B)
    model.forward(idx, cache=cache)  # the prompts, once: their keys and values go into the cache
    tracer.section("one new position per row, with the KV cache")
    nxt = model.forward(idx, cache=None)[0][:, -1].argmax(axis=-1)[:, None]  # (B, 1): the likeliest
    model.forward(nxt, tracer=tracer, cache=cache)
    k = cache.layers[0].k
    notes = [f"the cache holds k and v as (B, nh, block_size, hs) = {k.shape} per block, filled up to "
             f"t = {cache.t} of {CONTEXT}; {2 * k.size * k.itemsize:,} bytes per block",
             f"this step fed (B, 1) ids and computed one q, k, v per row; its one query attended over "
             f"t = {T + 1} positions"]
    return TraceRun(tracer, {**d, "t": T + 1}, notes=["the trained model, generating with a KV cache"],
                    extras={"kv_cache": {"notes": notes}}, tokens=words)


def _loop_notes(model: GPT, prompt: np.ndarray, seed: int) -> list[str]:
    vocab = word_model.VOCAB
    rng = np.random.default_rng(seed)
    ids = list(int(i) for i in prompt)
    lines = [f"prompt ({len(ids)} words): {' '.join(vocab[i] for i in ids)}"]
    for _ in range(NEW_WORDS):
        context = np.asarray(ids[-CONTEXT:])[None, :]  # crop: at most block_size words
        logits, _ = model.forward(context)
        ids.append(sample_next(logits[0, -1], TEMPERATURE, TOP_K, rng, NO_TRACE))
    lines.append(f"+ {NEW_WORDS} words: {' '.join(vocab[i] for i in ids[len(prompt):])}")
    if len(ids) > CONTEXT:
        lines.append(f"the last steps saw only the last {CONTEXT} of {len(ids) - 1} words: the context "
                     "was cropped to block_size")
    return lines


def _causal_notes(model: GPT, idx: np.ndarray) -> list[str]:
    changed = idx.copy()
    changed[:, -1] = (changed[:, -1] + 1) % len(word_model.VOCAB)  # another last word
    a, _ = model.forward(idx)
    b, _ = model.forward(changed)
    T = idx.shape[1]
    early = float(np.abs(a[:, :-1] - b[:, :-1]).max()) if T > 1 else 0.0
    return [f"change only the last word of every row: the logits of positions 0..T−2 move by at most "
            f"{early:.1e}, the last position's by {float(np.abs(a[:, -1] - b[:, -1]).max()):.2f}",
            "so each position's prediction depends only on the words up to it, in training as in generation"]


def run_init(dims: dict, seed: int) -> TraceRun:
    d = word_model.trained_dims(dims)
    B, T = d["B"], d["T"]
    idx, targets, words = word_model.batch(B, T)
    model = word_model.untrained(d, seed)
    tracer = Tracer(dims=d)
    model.forward(idx, targets, tracer=tracer)
    std = {n: float(np.std(model.params[n])) for n in ("wte", "h0.attn.c_attn.w", "h0.attn.c_proj.w",
                                                        "h0.mlp.c_proj.w")}
    deep = GPT(GPTConfig(vocab_size=d["V"], block_size=CONTEXT, n_layer=12, n_head=d["nh"],
                         n_embd=d["C"]), seed=seed)
    net = Network([784, 30, 10], seed=seed)
    x = np.random.default_rng(seed).random((784, 100)) / 4  # pixel-like inputs in 0..0.25
    z2 = net.weights[0] @ x + net.biases[0]

    def rows(name, t=tracer):  # the typical size of one token's vector: the mean of its entries' std
        return float(np.mean(np.std(t[name].value, axis=-1)))

    deep_trace = Tracer(dims={**d, "n_layer": 12})
    deep.forward(idx, targets, tracer=deep_trace)
    stream = ", ".join(f"{rows(f'h{i}.x_out', deep_trace):.3f}" for i in (0, 3, 7, 11))

    notes = [
        f"digit net 784-30-10: w2 std {np.std(net.weights[0]):.4f} (1/√784 = {1 / math.sqrt(784):.4f}); "
        f"z2 std on pixel-like inputs {np.std(z2):.2f}: σ works near its steep middle",
        f"GPT: wte std {std['wte']:.4f}, c_attn.w {std['h0.attn.c_attn.w']:.4f} (std 0.02); the residual "
        f"projections c_proj.w {std['h0.attn.c_proj.w']:.4f} and {std['h0.mlp.c_proj.w']:.4f} "
        f"(0.02/√(2·n_layer) = {0.02 / math.sqrt(2):.4f} for 1 block)",
        f"with 12 blocks the residual projections start at "
        f"{float(np.std(deep.params['h5.attn.c_proj.w'])):.4f} (0.02/√24 = {0.02 / math.sqrt(24):.4f}): "
        "24 branches add to the stream, each smaller",
        f"per-token std: x {rows('x'):.2f}, ln_1 {rows('h0.ln_1'):.2f}, attn_out {rows('h0.attn_out'):.3f}, "
        f"x_out {rows('h0.x_out'):.2f}, ln_f {rows('ln_f'):.2f}: LayerNorm's outputs are at 1, the stream "
        "keeps the size of x",
        f"a fresh 12-block GPT (learned positions): stream std {rows('x', deep_trace):.3f} at the input, "
        f"{stream} after blocks 0, 3, 7, 11: it does not grow with depth",
    ]
    return TraceRun(tracer, d, notes=[f"a fresh, untrained model (seed {seed})"],
                    extras={"scale": {"notes": notes}}, tokens=words)


def run_bigram(dims: dict, seed: int) -> TraceRun:
    """The bigram table counted on the lesson's words, scored on the batch the GPT steps score."""
    d = word_model.trained_dims(dims)
    B, T, V = d["B"], d["T"], d["V"]
    idx, targets, words = word_model.batch(B, T)
    d = {**d, "N": B * T}
    tracer = Tracer(dims=d)
    data = word_model.ids()
    P = bigram_fit(data, V, tracer=tracer)
    loss = bigram_loss(P, idx, targets, tracer=tracer, sym=("B*T",))
    model, _, _ = word_model.trained(B, T, d["C"], d["nh"], seed)
    untrained = word_model.untrained(d, seed).forward(idx, targets)[1]
    trained = model.forward(idx, targets)[1]
    notes = [f"on this batch: untrained GPT {untrained:.3f}, bigram {loss:.3f}, trained GPT {trained:.3f} "
             f"(the bigram counted all {len(data)} words of the lesson's text, the GPT trained on them: "
             "the lesson has no held-out part)"] + shakespeare_bigram_notes()
    return TraceRun(tracer, d, notes=[f"the bigram model on the lesson's {V} words"],
                    extras={"bigram": {"notes": notes}}, tokens=words)


def forget_found_text() -> None:
    """Look for Tiny Shakespeare again at the next note (the app calls this after downloading it)."""
    _shakespeare_bigram.cache_clear()


@lru_cache(maxsize=1)
def _shakespeare_bigram() -> tuple[int, int, float, float] | None:
    """(V, training characters, training loss, validation loss) of the bigram on Tiny
    Shakespeare split as `kqv train gpt` splits it, or None when the text is not here."""
    from engine.data.shakespeare import find_shakespeare
    from engine.data.text import CharVocab, encode_fast, read_text, split_train_val

    path = find_shakespeare()
    if path is None:
        return None
    text = read_text(path)
    vocab = CharVocab.from_text(text)
    train, val = split_train_val(encode_fast(vocab, text), 1)
    P = bigram_fit(train, vocab.size)
    return (vocab.size, len(train), bigram_loss(P, train[:-1], train[1:]),
            bigram_loss(P, val[:-1], val[1:]))


def shakespeare_bigram_notes() -> list[str]:
    measured = _shakespeare_bigram()
    if measured is None:
        return ["Tiny Shakespeare is not on this machine (D on the home screen or kqv data shakespeare "
                "gets it): with it, this note measures the bigram on its training and validation text"]
    V, n, train, val = measured
    return [f"Tiny Shakespeare, measured now: the bigram counted on its first {n:,} characters (the "
            f"training part) scores {train:.3f} on them and {val:.3f} on the last 10% (validation); "
            f"a uniform guess scores ln {V} = {math.log(V):.3f}"]


TRACES: dict[str, TraceFn] = {"bigram": run_bigram, "train": run_train, "bias": run_bias,
                              "generate": run_generate, "kv": run_kv, "init": run_init}
