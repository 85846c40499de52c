"""sampling: temperature, top-k, softmax and one seeded draw, graded against engine.gpt.sampling."""

from __future__ import annotations

import numpy as np

from engine.gpt.sampling import sample_next
from engine.trace import Tracer
from lessons.practice.exercise import Call, Case, Exercise, Mistake, Seeded
from lessons.practice.gpt_inputs import traced_case

# V, temperature, top_k, seed: the seeds are ones whose draw is not simply the largest p
SETS = (({"V": 7}, 1.3, 3, 3), ({"V": 11}, 1.7, 5, 0))


def cases() -> list[Case]:
    out = []
    for i, (dims, temperature, top_k, seed) in enumerate(SETS):
        logits = np.random.default_rng([51, i]).standard_normal(dims["V"]) * 2.0
        tracer = Tracer(dims=dict(dims))
        sample_next(logits, temperature, top_k, np.random.default_rng(seed), tracer)
        args = {"logits": logits, "temperature": temperature, "top_k": top_k, "rng": Seeded(seed)}
        out.append(traced_case(tracer, [Call("sample_next", args, "next_id")],
                               ["z", "z_top", "p", "next_id"],
                               {"logits": logits, "temperature": temperature, "top_k": top_k}))
    return out


def _keep(c, k):
    """z with all but its k largest entries set to −inf (ties with the k-th kept, as the engine)."""
    z = c.value("z")
    return np.where(z < np.sort(z)[-k], -np.inf, z)


MISTAKES = (
    Mistake("temperature multiplied",
            "the logits are divided by the temperature: a temperature below 1 makes the scores "
            "further apart, so the largest wins more often.",
            lambda c: {"z": c.value("logits") * c.value("temperature")},
            ('show("z", logits / temperature)', 'show("z", logits * temperature)')),
    Mistake("temperature after softmax, not on the logits",
            "divide the logits by the temperature before softmax: z = logits / temperature. "
            "Dividing p by it after softmax and renormalising gives the same p back, so the "
            "temperature then changes nothing.",
            lambda c: {"z": c.value("logits")},
            ('show("z", logits / temperature)', 'show("z", logits)')),
    Mistake("top-k keeps k − 1",
            "keep every score at least as large as the k-th largest: mask z < kth, not z <= kth, "
            "or the k-th itself is dropped.",
            lambda c: {"z_top": _keep(c, int(c.value("top_k")) - 1)},
            ("np.where(z < kth", "np.where(z <= kth")),
    Mistake("top-k keeps k + 1",
            "the k-th largest of V sorted scores is np.sort(z)[-k] (the last is the largest, [-1]).",
            lambda c: {"z_top": _keep(c, int(c.value("top_k")) + 1)},
            ("np.sort(z)[-top_k]", "np.sort(z)[-top_k - 1]")),
    Mistake("0 instead of −inf",
            "a dropped score must get probability 0: e^−inf = 0, but e^0 = 1 gives it a share.",
            lambda c: {"z_top": np.where(np.isinf(c.value("z_top")), 0.0, c.value("z"))},
            ("-np.inf, z)", "0.0, z)")),
    Mistake("the largest p taken, not drawn",
            "sampling draws: rng.choice(V, p=p) picks id i with probability p[i]. np.argmax always "
            "takes the same id (greedy decoding), and the text repeats itself.",
            lambda c: {"next_id": np.asarray(np.argmax(c.value("p")))},
            ("int(rng.choice(len(p), p=p))", "int(np.argmax(p))")),
)

EXERCISE = Exercise(
    name="sampling",
    title="next-token sampling: temperature and top-k",
    step="topk",
    function="sample_next",
    phase="forward",
    text=(
        "Write how kqv sample picks each next token from the last position's logits (V,). Divide "
        "by the temperature; keep only the top_k largest scores (the rest become −inf); softmax; "
        "then one draw from a seeded generator, rng.choice(V, p=p), so the same seed draws the "
        "same id as the engine. The draw is graded too: it must be a draw, not the largest p."
    ),
    hints=(
        "Shapes: logits, z, z_top and p are (V,); the k-th largest score is one number; the "
        "result is one int.",
        "Formulas: z = logits / temperature; z_top[i] = z[i] if z[i] ≥ (k-th largest of z) else −inf; "
        "p = exp(z_top − max) / Σ exp(z_top − max); next = a draw from p.",
        "Near-code: z = logits / temperature; kth = np.sort(z)[-top_k]; z = np.where(z < kth, "
        "-np.inf, z); e = np.exp(z - z.max()); p = e / e.sum(); return int(rng.choice(len(p), p=p))",
    ),
    mistakes=MISTAKES,
    cases=cases,
    notes=(("next_id",
            "you drew {yours}, the engine drew {engine} from the same p: draw with the rng the "
            "function is given, rng.choice(len(p), p=p). np.random.choice or a generator of your "
            "own draws from another stream, so the same seed no longer gives the same text and a "
            "run cannot be replayed."),),
)
