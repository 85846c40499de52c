"""The what-if lab's experiments: the "what if...?" questions of the blog post the course grew from,
each answered by a run.

An experiment is a few variants of one model, trained for the same budget on the same data
from the same seed, then compared. A variant is the one model with a part swapped in, never a
copy of it: a GPT variant names the part itself (``swapped(mask=FLIPPED)`` builds the attention
with :data:`engine.attention_parts.FLIPPED`), which becomes the config field its checkpoint and the
results cache record (``{"mask": "flipped"}``); a digit-net variant changes
:class:`engine.digits.network.Network`'s settings.
The verdict is a function of the measured numbers, so what it says is what the run shows.
Each experiment is named (`kqv lab run NAME`) in the lesson step whose question it answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from engine.attention_parts import FLIPPED, NO_MASK, SQUARED, UNSCALED
from engine.gpt.blocks import BlockWithoutResidual, NoNorm, NoPositions, SinusoidalPositions
from engine.gpt.config import swapped
from engine.translation.layers import NoCrossAttention, NoPositionCode
from engine.translation.model import swapped as tx_swapped
from kqv_cli.lab import translation_verdicts, verdicts

# The lab's GPT: small enough that three variants train in well under a minute on 2 cores,
# big enough that the differences show (T=32 characters, C=64, 2 blocks of 4 heads).
GPT_BASE = {"block_size": 32, "n_layer": 2, "n_head": 4, "n_embd": 64}
GPT_TRAIN = {"batch_size": 16, "lr": 3e-3, "min_lr": 3e-4, "warmup_iters": 20, "eval_iters": 20}
GPT_BUDGET = 500  # iterations

# The book's chapter-1 net and its settings (constant η, as in the book).
DIGITS_BASE = {"sizes": [784, 30, 10], "activation": "sigmoid", "cost": "quadratic", "eta": 3.0,
               "batch_size": 10, "schedule": "constant"}
DIGITS_BUDGET = 3  # epochs

# The lab's translation Transformer: the paper's model (post-LN, sinusoidal positions, label
# smoothing 0.1, the warm-up schedule) at a size that trains 800 batches of short sentences in
# about half a minute on one core: C=64, 2 encoder and 2 decoder layers of 4 heads.
TX_BASE = {"n_embd": 64, "n_head": 4, "n_layer": 2, "n_dec_layer": 2, "d_ff": 256, "max_len": 32,
           "dropout": 0.0}
# lr scales the paper's schedule: 0.3 peaks at 0.3 · 64^-½ · 100^-½ ≈ 3.8e-3 after the warm-up; 1.0 was
# measured worse on these 800 batches (BLEU 3.6 against 7.9, validation loss 2.62 against 2.28)
TX_TRAIN = {"batch_size": 32, "lr": 0.3, "warmup_iters": 100, "smoothing": 0.1, "vocab_size": 600}
TX_BUDGET = 800  # iterations


@dataclass(frozen=True)
class Variant:
    label: str
    changes: dict = field(default_factory=dict)  # the parts (by config name) on top of the base
    note: str = ""  # what this variant is, in a few words


@dataclass(frozen=True)
class Experiment:
    name: str
    kind: str  # "gpt", "translation" or "digits"
    question: str
    variants: tuple[Variant, ...]
    verdict: Callable[[dict], str]  # {label: VariantResult} -> the explanation
    columns: tuple[str, ...]  # the metrics the comparison table shows (keys of METRICS)
    budget: int
    base: dict = field(default_factory=dict)  # changes to GPT_BASE / DIGITS_BASE for every variant
    # a translation experiment's default pairs: "" the shared ones when here, "builtin" the built-in
    # set (for a question its sentences answer better, as word order for the bag of words)
    pairs: str = ""

    @property
    def block_size(self) -> int:
        """The context length of a GPT experiment's models, which its text must exceed."""
        return {**GPT_BASE, **self.base}["block_size"]

    @property
    def unit(self) -> str:
        return "epochs" if self.kind == "digits" else "iterations"

    @property
    def curve_label(self) -> str:
        return "validation accuracy" if self.kind == "digits" else "training loss (smoothed)"


# metric key -> (column header, format)
METRICS = {
    "train_loss": ("train loss", "{:.3f}"),
    "val_loss": ("val loss", "{:.3f}"),
    "next_loss": ("loss when generating", "{:.3f}"),
    "entropy": ("attention entropy", "{:.2f} nats"),
    "entropy_uniform": ("uniform entropy", "{:.2f} nats"),
    "words": ("real words /100 chars", "{:.1f}"),
    "ms_per_iter": ("ms/iter", "{:.1f}"),
    "first_tenth": ("acc. after 1/10 epoch", "{:.1%}"),
    "epoch1": ("acc. after epoch 1", "{:.1%}"),
    "accuracy": ("final accuracy", "{:.2%}"),
    "train_cost": ("train cost", "{:.4f}"),
    "perplexity": ("val perplexity", "{:.1f}"),
    "bleu": ("BLEU", "{:.1f}"),
    "distinct": ("distinct translations", "{:.1%}"),
    "ms_per_sentence": ("ms/sentence", "{:.1f}"),
}



def format_metric(key: str, value) -> str:
    """A metric as the tables show it ("-" when it could not be measured)."""
    return "-" if value is None else METRICS[key][1].format(value)


def sample_line(sample: str, limit: int = 240) -> str:
    """A sample as one paragraph, its line breaks shown as ⏎ (a run of them is a finding too)."""
    return sample[:limit].replace("\n", "⏎")


GPT_COLUMNS = ("train_loss", "val_loss", "next_loss", "words", "ms_per_iter")
DIGIT_COLUMNS = ("first_tenth", "epoch1", "accuracy", "train_cost")


def gpt(name, question, variants, verdict, columns=GPT_COLUMNS, base=None):
    return Experiment(name, "gpt", question, tuple(variants), verdict, columns, GPT_BUDGET, base or {})


TX_COLUMNS = ("train_loss", "val_loss", "perplexity", "bleu", "distinct", "ms_per_iter")


def translation(name, question, variants, verdict, columns=TX_COLUMNS, base=None, pairs=""):
    return Experiment(name, "translation", question, tuple(variants), verdict, columns, TX_BUDGET, base or {},
                      pairs)


def digits(name, question, variants, verdict, columns=DIGIT_COLUMNS, base=None):
    return Experiment(name, "digits", question, tuple(variants), verdict, columns, DIGITS_BUDGET,
                      base or {})


STANDARD = Variant("standard", {}, "GPT-2's attention")

EXPERIMENTS: tuple[Experiment, ...] = (
    gpt("squared-dot",
        "What if attention compared q and k with a squared dot product: square every number, then "
        "take the dot product (q² · k²)?",
        [STANDARD, Variant("squared", swapped(score=SQUARED), "scores q² · k²")],
        verdicts.squared_dot),
    gpt("no-scale",
        "What if we left out the 1/√hs that divides the scores?",
        [Variant("scaled", {}, "scores · 1/√hs"), Variant("unscaled", swapped(scale=UNSCALED), "raw q · k")],
        verdicts.no_scale,
        columns=("train_loss", "val_loss", "entropy", "entropy_uniform", "ms_per_iter"),
        base={"n_head": 1}),
    gpt("flipped-mask",
        "What if the mask hid the lower-left triangle (the past) instead of the upper-right (the "
        "future), or if there were no mask at all?",
        [Variant("causal", {}, "hide the future"), Variant("flipped", swapped(mask=FLIPPED), "hide the past"),
         Variant("none", swapped(mask=NO_MASK), "hide nothing")],
        verdicts.flipped_mask),
    gpt("positions",
        "What if the model had no idea where each character sits, or used the original Transformer's "
        "fixed sine waves instead of learned positions?",
        [Variant("learned", {}, "learned wpe (GPT-2)"),
         Variant("sinusoidal", swapped(pos=SinusoidalPositions), "fixed sin/cos (2017 paper)"),
         Variant("none", swapped(pos=NoPositions), "no positions: a bag of characters")],
        verdicts.positions),
    gpt("heads",
        "What if attention had one big head instead of four small ones?",
        [Variant("4 heads", {"n_head": 4}, "nh=4, hs=16"), Variant("1 head", {"n_head": 1}, "nh=1, hs=64")],
        verdicts.heads),
    gpt("no-residual",
        "What if the blocks replaced x instead of adding to it (no residual connections)?",
        [Variant("residual", {}, "x + f(x)"),
         Variant("no residual", swapped(residual=BlockWithoutResidual), "f(x)")],
        verdicts.no_residual, base={"n_layer": 3}),
    gpt("no-layernorm",
        "What if there were no LayerNorm anywhere in the model?",
        [Variant("layernorm", {}, "pre-LN, as GPT-2"), Variant("no layernorm", swapped(layernorm=NoNorm),
                                                              "no normalisation")],
        verdicts.no_layernorm, base={"n_layer": 3}),
    translation("tx-norm-warmup",
                "What if the Transformer normalised before each sublayer (pre-LN, GPT-2) instead of after "
                "it (post-LN, the paper), and what if either started at full learning rate, with no warm-up?",
                [Variant("post-LN", {}, "LN(x + f(x)), warm-up"),
                 Variant("post-LN, no warm-up", {"warmup_iters": 1}, "the largest step first"),
                 Variant("pre-LN", {"norm": "pre"}, "x + f(LN(x)), warm-up"),
                 Variant("pre-LN, no warm-up", {"norm": "pre", "warmup_iters": 1}, "the largest step first")],
                translation_verdicts.tx_norm_warmup),
    translation("tx-no-cross",
                "What if the decoder had no cross-attention: nothing in it would read the source sentence?",
                [Variant("cross-attention", {}, "the decoder reads the memory"),
                 Variant("no cross-attention", tx_swapped(cross=NoCrossAttention), "it cannot")],
                translation_verdicts.tx_no_cross),
    translation("tx-no-positions",
                "What if the encoder had no position code: the source would be a bag of words?",
                [Variant("positions", {}, "sinusoidal PE on the source"),
                 Variant("no positions", tx_swapped(src_positions=NoPositionCode), "a bag of words")],
                translation_verdicts.tx_no_positions, pairs="builtin"),
    translation("tx-smoothing",
                "What if the targets were not smoothed (ε = 0) instead of the paper's ε = 0.1?",
                [Variant("ε = 0.1", {}, "0.9 on the right piece"),
                 Variant("ε = 0", {"smoothing": 0.0}, "1 on the right piece")],
                translation_verdicts.tx_smoothing),
    translation("tx-beam",
                "What if the same trained model translated greedily instead of with a beam of 4?",
                [Variant("greedy", {"beam": 1}, "the likeliest piece each step"),
                 Variant("beam 4", {"beam": 4}, "the 4 likeliest partial translations")],
                translation_verdicts.tx_beam, columns=("val_loss", "bleu", "distinct", "ms_per_sentence")),
    digits("relu",
           "What if the hidden neurons were ReLUs instead of sigmoids (at the book's η, and a smaller one)?",
           [Variant("sigmoid", {}, "σ(z), the book's"), Variant("relu", {"activation": "relu"}, "max(0, z)"),
            Variant("relu, η = 0.5", {"activation": "relu", "eta": 0.5}, "max(0, z), smaller steps")],
           verdicts.relu),
    digits("cross-entropy",
           "What if the cost were cross-entropy instead of the quadratic cost: does the learning "
           "slowdown show in the first epoch?",
           [Variant("quadratic", {}, "½‖a − y‖², sigmoid outputs"),
            Variant("cross-entropy", {"cost": "cross-entropy"},
                    "−Σ[y ln a + (1−y) ln(1−a)], sigmoid outputs")],
           verdicts.cross_entropy, columns=("first_tenth", "epoch1", "accuracy"), base={"eta": 0.5}),
    digits("learning-rate",
           "What if the learning rate η were tiny (0.1), the book's (3.0) or huge (100)?",
           [Variant("η = 0.1", {"eta": 0.1}), Variant("η = 3.0", {"eta": 3.0}),
            Variant("η = 100", {"eta": 100.0})],
           verdicts.learning_rate),
    digits("hidden-neurons",
           "What if the hidden layer had 100 neurons instead of 30?",
           [Variant("30 hidden", {}, "784-30-10"),
            Variant("100 hidden", {"sizes": [784, 100, 10]}, "784-100-10")],
           verdicts.hidden_neurons),
)


def experiment_names() -> list[str]:
    return [e.name for e in EXPERIMENTS]


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name``; a one-line error naming the known ones otherwise."""
    from engine.errors import KqvError

    for e in EXPERIMENTS:
        if e.name == name:
            return e
    raise KqvError(f"no experiment called {name!r}; known: {', '.join(experiment_names())}")
