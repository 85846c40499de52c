"""Questions about training and generating (lesson "training"): AdamW's state, sampling, KV cache.

Each builder draws fresh sizes for the level (as :mod:`lessons.cards.attention` does),
runs the real engine and reads the answer from what it produced: the optimizer's own m and v
after a real :func:`engine.optim.adamw_update` of one parameter, the traced logits sliced the
way generation slices them, and a traced generation step with :class:`engine.kv_cache.KVCache`.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from engine.gpt.sampling import sample_next
from engine.optim import AdamW, adamw_update
from engine.trace import Tracer
from lessons.cards.gpt_run import CONVENTION, LETTERS, GPTRun, both_forms, run_gpt
from lessons.cards.question import Draw, Question, proof_line, shape_question

TOPIC = "training"


class KVRun(GPTRun):
    """A run whose last step generated with a KV cache: ``t`` positions are in the cache.

    Its step fed one token (T = 1), and answers are read case-blind (``NH`` is ``nh``), so T
    is written as the number 1 and ``t`` is the only letter for positions."""

    letters = tuple(name for name in LETTERS if name != "T") + ("t",)

    @property
    def dims(self) -> dict[str, int]:
        return {k: v for k, v in self.trace.dims.items() if k in self.letters}

    def setting(self) -> str:
        """What is cached and what is new: the prompt is in the cache, one character goes in."""
        t = self.trace.dims["t"]
        return (f"{self.model_text()} has read a prompt of {t - 1} characters for each of {self.sequences()} "
                f"into its KV cache; now one new character per sequence goes in (T=1), so the cache "
                f"holds t={t} positions.")


def _shape_question(card_id: str, draw: Draw, run: GPTRun, record, ask: str, hints: tuple[str, str],
                    derivation: list[str], proof: list) -> Question:
    return shape_question(card_id, TOPIC, CONVENTION, draw, run, record, ask, hints, derivation, proof)


def _adam_step(run: GPTRun, name: str) -> Tracer:
    """One real AdamW step of parameter ``name`` (on copies), traced: its m, v and update."""
    model = run.model
    opt = AdamW(model.flat_params, model.flat_grads, model.n_decay)
    part, shape = model.flat_slice(name), model.params[name].shape
    tracer = Tracer(dims=run.trace.dims)
    adamw_update(model.params[name].copy(), model.grads[name], opt.m[part].reshape(shape).copy(),
                 opt.v[part].reshape(shape).copy(), 1, 1e-3, opt.beta1, opt.beta2, opt.eps,
                 opt.weight_decay if len(shape) >= 2 else 0.0, tracer=tracer)
    return tracer


def adam_state(draw: Draw) -> Question:
    run = run_gpt(draw)
    p, t = run.block(draw), run.trace
    name = draw.pick((f"{p}attn.c_attn.w", f"{p}attn.c_proj.w", f"{p}mlp.c_fc.w", f"{p}mlp.c_proj.w",
                      f"{p}attn.c_attn.b", f"{p}mlp.c_fc.b", "wte"))
    which = draw.pick(("m", "v"))
    step = _adam_step(run, name)
    weight = t[name] if name in t else None
    dname = name.rsplit(".", 1)[0] + ".d" + name.rsplit(".", 1)[1] if "." in name else "dwte"
    grad = t[dname]
    # the optimizer's array, named for the question and given the letters of the gradient it follows
    rec = dataclasses.replace(step[which], name=f"{which} of {name}", symbolic=grad.symbolic)
    formula = "β₁·m + (1−β₁)·g" if which == "m" else "β₂·v + (1−β₂)·g²"
    return _shape_question(
        "training.adam_state", draw, run, rec,
        f"AdamW keeps two running averages per parameter. What is the shape of {which} for {name}?",
        (f"{which} ← {formula}: one running average per entry of the gradient.",
         f"{dname} is {both_forms(grad)}."),
        [f"{which} is updated entry by entry from g = {dname} {both_forms(grad)}: the same shape",
         "so is the step lr·m̂/(√v̂ + ε), and so is the parameter it moves"],
        [grad] + ([weight] if weight is not None else []))


def adam_memory(draw: Draw) -> Question:
    run = run_gpt(draw)
    model = run.model
    opt = AdamW(model.flat_params, model.flat_grads, model.n_decay)
    n, size = model.num_params, model.flat_params.itemsize
    total = int(opt.m.size + opt.v.size)
    step = _adam_step(run, "wte")  # evidence: one parameter's m and v, shaped like it
    return Question(
        card_id="training.adam_memory", topic=TOPIC, level=draw.level, setting=run.setting(),
        ask=(f"The model has {n:,} parameters. How many numbers do AdamW's m and v hold together? "
             "Answer with a number."),
        convention=CONVENTION, kind="count", answer=total, letters=LETTERS,
        hints=("m and v each have one entry per parameter, shaped like it.", f"{n:,} parameters."),
        derivation=(f"m: {n:,} numbers, v: {n:,} numbers: {total:,} together",
                    f"at {size} bytes each (float64 here) that is {total * size:,} bytes; in float32, "
                    f"{total * 4:,}",
                    "with the parameters and the gradients, training holds 4 numbers per parameter"),
        proof=tuple(proof_line(r) for r in (run.trace["wte"], step["m"], step["v"])),
        dims=run.dims, derived=dict(run.derived), subject="m,v",
        evidence={"arrays": {"m": opt.m, "v": opt.v}},
    )


def last_logits(draw: Draw) -> Question:
    run = run_gpt(draw)
    logits = run.trace["logits"]
    rec = dataclasses.replace(logits, name="logits[:, -1, :]", value=logits.value[:, -1, :],
                              symbolic=(logits.symbolic[0], logits.symbolic[2]),
                              formula="the last position of every row of logits, as generation reads it")
    return _shape_question(
        "training.last_logits", draw, run, rec,
        "To generate the next token, the model runs on the context and keeps only the last position: "
        "what is the shape of logits[:, -1, :]?",
        ("only the last position predicts a token not seen yet; the other T − 1 rows are dropped.",
         f"logits is {both_forms(logits)}."),
        [f"logits {both_forms(logits)}: indexing the T axis with one number removes it",
         "one row of V scores per sequence, divided by the temperature and sampled from"],
        [logits])


def run_kv(draw: Draw) -> KVRun:
    """A GPT that has read a prompt of T tokens into a KV cache, then one traced new token."""
    base = run_gpt(draw)
    model, B, T = base.model, base.B, base.T
    idx = draw.rng.integers(model.config.vocab_size, size=(B, T))
    cache = model.kv_cache(B)
    model.forward(idx, cache=cache)
    tracer = Tracer(dims=model.dims(B, 1, t=T + 1))
    model.forward(idx[:, -1:], tracer=tracer, cache=cache)
    return KVRun(model, B, 1, tracer)


def kv_cache(draw: Draw) -> Question:
    run = run_kv(draw)
    p, t = run.block(draw), run.trace
    name = draw.pick(("k_cache", "att", "logits", "q"))
    rec = t["logits"] if name == "logits" else t[f"{p}{name}"]
    rec = dataclasses.replace(rec, symbolic=tuple("1" if s == "T" else s for s in rec.symbolic))
    kc = t[f"{p}k_cache"]
    t_now = run.trace.dims["t"]
    return _shape_question(
        "training.kv_cache", draw, run, rec,
        f"Generating with a KV cache: the cache already holds the prompt, and one new token per sequence "
        f"goes in (T = 1), making t = {t_now} positions. What is the shape of "
        f"{'logits' if name == 'logits' else f'{p}{name}'} in this step?",
        ("the new token makes one q, k, v per head; k and v are appended to the cache; its one query "
         "attends over all t positions.", f"k_cache is {both_forms(kc)}."),
        [f"q, k, v of the new token: (B, nh, 1, hs); the cache after appending: {both_forms(kc)}",
         "att = q @ k_cacheᵀ: (B, nh, 1, hs) @ (B, nh, hs, t) → (B, nh, 1, t), one row, not a t × t grid",
         "logits: the one new position's scores, (B, 1, V)"],
        [kc])


def kv_cache_numbers(draw: Draw) -> Question:
    run = run_kv(draw)
    p, t = run.block(draw), run.trace
    kc, vc = t[f"{p}k_cache"], t[f"{p}v_cache"]
    total = int(kc.value.size + vc.value.size)
    B, nh, t_now, hs = kc.shape
    block_size = run.config.block_size
    return Question(
        card_id="training.kv_cache_numbers", topic=TOPIC, level=draw.level, setting=run.setting(),
        ask=(f"How many numbers do block {p[:-1]}'s k_cache and v_cache hold together, for the t={t_now} "
             "positions filled so far? Answer with a number."),
        convention=CONVENTION, kind="count", answer=total, letters=run.letters,
        hints=("one k and one v per position, per head, per sequence: each (B, nh, t, hs).",
               f"B = {B}, nh = {nh}, hs = {hs}."),
        derivation=(f"k_cache: B·nh·t·hs = {B}·{nh}·{t_now}·{hs} = {kc.value.size:,}; v_cache the same",
                    f"together {total:,} numbers: {total * 4:,} bytes in float32 ({total * 8:,} in this "
                    "quiz's float64)",
                    f"kqv allocates the whole window at once: 2·B·nh·block_size·hs = "
                    f"{2 * B * nh * block_size * hs:,} numbers per block"),
        proof=(proof_line(kc), proof_line(vc)), dims=run.dims, derived=dict(run.derived), subject="k_cache",
        evidence={"arrays": {"k_cache": kc.value, "v_cache": vc.value}},
    )


def topk_count(draw: Draw) -> Question:
    run = run_gpt(draw)
    V = run.config.vocab_size
    k = int(draw.rng.integers(1, V + 1))
    tracer = Tracer(dims=run.trace.dims)
    sample_next(run.trace["logits"].value[0, -1], 1.0, k, draw.rng, tracer)
    p = tracer["p"]
    kept = p.value[p.value > 0]
    return Question(
        card_id="training.topk", topic=TOPIC, level=draw.level, setting=run.setting(),
        ask=(f"Sampling the next character with top-k = {k}: after the softmax, how many of the V={V} "
             "entries of p are not zero? Answer with a number."),
        convention=CONVENTION, kind="count", answer=int(kept.size), letters=LETTERS,
        hints=("top-k sets every logit below the k-th largest to −∞ before the softmax.",
               f"V = {V}, k = {k}."),
        derivation=(f"z_top keeps the {k} largest logits and sets the other {V - k} to −∞",
                    "softmax gives −∞ exactly 0 (e^−∞ = 0): only the kept ones can be drawn",
                    f"so {kept.size} entries of p are above 0, and they still sum to 1"),
        proof=(proof_line(tracer["z_top"]), proof_line(p)), dims=run.dims, derived=dict(run.derived),
        subject="p", evidence={"arrays": {"p > 0": kept}},
    )


def loss_at_init(draw: Draw) -> Question:
    run = run_gpt(draw)
    V = run.config.vocab_size
    loss = float(run.trace["loss"].value)
    return Question(
        card_id="training.loss_at_init", topic=TOPIC, level=draw.level, setting=run.setting(),
        ask=(f"The GPT is freshly initialised (weights of std 0.02) and has V={V} characters. About what "
             "loss should its first step show? Answer with a number, two decimals."),
        convention=CONVENTION, kind="number", answer=math.log(V), letters=LETTERS,
        hints=("small weights give logits near 0, so softmax gives every character about 1/V.",
               "the loss is the mean of −ln p[target]."),
        derivation=(f"every p[target] is about 1/V = 1/{V}", f"−ln(1/V) = ln V = ln {V} = {math.log(V):.3f}",
                    f"this model's traced loss: {loss:.3f}; a first loss far above ln V means the logits "
                    "started too big"),
        proof=(proof_line(run.trace["logits"]), proof_line(run.trace["loss"])), dims=run.dims,
        derived=dict(run.derived), subject="loss", evidence={"value": loss, "within": 0.25},
        tolerance=0.01,
    )


def bias_correction(draw: Draw) -> Question:
    run = run_gpt(draw)
    model = run.model
    opt = AdamW(model.flat_params, model.flat_grads, model.n_decay)
    b1, b2, eps, lr = opt.beta1, opt.beta2, opt.eps, 1e-3
    step = int(draw.rng.integers(1, 6 + 4 * draw.level))
    g = model.grads["wte"].copy()
    m, v = 0.5 * g.copy(), 0.5 * g * g  # a state left by earlier steps: any will do
    tracer = Tracer(dims=run.trace.dims)
    adamw_update(model.params["wte"].copy(), g, m, v, step, lr, b1, b2, eps, 0.0, tracer=tracer)
    m_new, v_new, update = tracer["m"].value, tracer["v"].value, tracer["update"].value
    where = np.abs(m_new) > 1e-3 * np.abs(m_new).max()
    # update = lr·m̂/(√v̂ + ε) read back: m̂/m is the factor the step applied
    m_hat = update[where] * (np.sqrt(v_new[where] / (1 - b2 ** step)) + eps) / lr
    measured = float(np.median(m_hat / m_new[where]))
    factor = 1 / (1 - b1 ** step)
    return Question(
        card_id="training.bias_correction", topic=TOPIC, level=draw.level, setting=run.setting(),
        ask=(f"AdamW with β₁ = {b1} is at step t = {step}. By what factor does the bias correction "
             "m̂ = m / (1 − β₁ᵗ) multiply m? Answer with a number, two decimals."),
        convention=CONVENTION, kind="number", answer=factor, letters=LETTERS,
        hints=("m starts at 0, so early on it is too small; dividing by 1 − β₁ᵗ undoes that.",
               f"β₁ᵗ = {b1}^{step} = {b1 ** step:.4f}."),
        derivation=(f"1 − β₁ᵗ = 1 − {b1 ** step:.4f} = {1 - b1 ** step:.4f}",
                    f"1 / {1 - b1 ** step:.4f} = {factor:.3f}; it fades to 1 as t grows",
                    f"read back from the engine's update of wte: m̂/m = {measured:.3f}"),
        proof=(proof_line(tracer["m"]), proof_line(tracer["update"])), dims=run.dims,
        derived=dict(run.derived), subject="m", evidence={"value": measured, "within": 1e-3 * factor},
        tolerance=0.01,
    )


CARDS = (
    ("training.last_logits", "sampling reads the last position", last_logits),
    ("training.adam_state", "AdamW's m and v", adam_state),
    ("training.adam_memory", "AdamW's memory", adam_memory),
    ("training.kv_cache", "shapes with a KV cache", kv_cache),
    ("training.kv_cache_numbers", "how much a KV cache holds", kv_cache_numbers),
    ("training.topk", "what top-k keeps", topk_count),
    ("training.loss_at_init", "the loss at initialisation: ln V", loss_at_init),
    ("training.bias_correction", "AdamW's bias correction at step t", bias_correction),
)
