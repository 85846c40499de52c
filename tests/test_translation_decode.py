"""Greedy decoding and beam search: the cached paths against running the whole prefix, beam 1
against greedy, and a wide beam against the exhaustive best on a vocabulary small enough to
list every translation."""

import itertools

import numpy as np
import pytest

from engine.errors import KqvError
from engine.translation.decode import _beam_search, beam_search, greedy
from engine.translation.model import Transformer, TransformerConfig

PAD, BOS, EOS = 0, 1, 2
SRC = np.array([[3, 4, 5, 6, EOS], [7, 8, EOS, PAD, PAD], [5, 5, 9, EOS, PAD]])


def model(V=11, seed=3, eos_bias=1.5, **kw):
    """A random model whose translations vary and end at different lengths (some at max_new)."""
    cfg = TransformerConfig(vocab_size=V, n_embd=16, n_head=2, n_layer=2, n_dec_layer=2, d_ff=24, max_len=12,
                            dropout=0.0, final_logits_bias=True, **kw)
    m = Transformer(cfg, seed=seed, dtype=np.float64)
    rng = np.random.default_rng(seed + 1)
    m.flat_params[...] += rng.standard_normal(m.flat_params.size) * 0.3  # sharper, varied choices
    m.params["final_logits_bias"][:] = 0.0
    m.params["final_logits_bias"][EOS] = eos_bias
    return m


def test_cached_greedy_gives_the_tokens_of_running_the_whole_prefix():
    for norm in ("post", "pre"):
        m = model(norm=norm)
        cached = greedy(m, SRC, max_new=10)
        assert cached == greedy(m, SRC, max_new=10, cache=False)
        assert all(len(ids) <= 10 and EOS not in ids and PAD not in ids for ids in cached)
    assert sorted(len(ids) for ids in greedy(model(), SRC, max_new=10)) == [1, 10, 10]  # one ends early


def test_greedy_of_a_padded_batch_is_greedy_of_each_sentence_alone():
    m = model()
    batch = greedy(m, SRC, max_new=10)
    alone = [greedy(m, SRC[i : i + 1, : int((SRC[i] != PAD).sum())], max_new=10)[0] for i in range(3)]
    assert batch == alone


def test_cached_beam_search_matches_the_uncached_one():
    m = model(activation="silu", positions="halves")
    for lp in (0.0, 1.0, 2.0):
        assert beam_search(m, SRC, beam=3, max_new=8, length_penalty=lp) == \
            beam_search(m, SRC, beam=3, max_new=8, length_penalty=lp, cache=False)


def test_one_beam_is_greedy():
    m = model()
    want = greedy(m, SRC, max_new=10)
    assert beam_search(m, SRC, beam=1, max_new=10) == want
    # the beam machinery itself with one beam and no length penalty makes greedy's choices too
    assert _beam_search(m, SRC, 1, 10, 0.0, False, True, None, False) == want


def sequence_logprob(m, src, ids):
    """log p(ids | src) by one forward pass over the whole target."""
    tgt = np.array([[BOS, *ids]])
    logits = m.forward(src[None, :], tgt[:, :-1])[0]
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    return float(sum(logp[t, tok] for t, tok in enumerate(ids)))


@pytest.mark.parametrize("lp", [0.0, 1.0])
def test_a_beam_wide_enough_finds_the_best_translation_of_all(lp):
    """Vocabulary of 5 (padding banned), at most 3 tokens: every translation is listed and
    scored by Σ log p / length^lp; 16 beams hold every 2-token prefix, so the search is
    exhaustive and must find the best one."""
    m = model(V=5, eos_bias=0.0)
    src = np.array([3, 4, 3, EOS])
    words = [BOS, 3, 4]  # everything but padding and the end token
    options = []
    for n in range(0, 3):
        for body in itertools.product(words, repeat=n):
            options.append([*body, EOS])
    options += [list(body) for body in itertools.product([*words, EOS], repeat=3) if EOS not in body[:2]
                and body[2] != EOS]
    scored = [(sequence_logprob(m, src, ids) / len(ids) ** lp, ids) for ids in options]
    best = max(scored)[1]
    found = beam_search(m, src[None, :], beam=16, max_new=3, length_penalty=lp)[0]
    want = best[:-1] if best[-1] == EOS else best
    assert found == want


def test_force_eos_ends_at_the_last_allowed_step():
    m = model()
    for ids in greedy(m, SRC, max_new=2, force_eos=True):
        assert len(ids) <= 1  # the second token had to be the end token, which is not returned


@pytest.mark.parametrize("kw, match", [({"beam": 0}, "beam"), ({"beam": 10000}, "beam"),
                                       ({"max_new": 0}, "max_new"), ({"max_new": 99}, "max_len")])
def test_bad_settings_are_refused_in_one_line(kw, match):
    with pytest.raises(KqvError, match=match):
        beam_search(model(), SRC, **{"max_new": 5, **kw})


def test_beam_step_keeps_the_2k_best_continuations_and_divides_finished_scores_by_the_length():
    from engine.trace import Tracer
    from engine.translation.decode import beam_step

    # one sentence, two beams, four tokens: beam 1 is better so far, beam 0 has the best token
    logp = np.log(np.array([[0.7, 0.1, 0.1, 0.1], [0.25, 0.25, 0.4, 0.1]]))
    running = np.array([[-3.0, -1.0]])
    tracer = Tracer(dims={"B": 1, "K": 2, "V": 4})
    top_scores, parent, token, finish = beam_step(logp, running, 3, 1.0, tracer)
    acc = (logp + running.T).reshape(1, 8)
    assert np.array_equal(tracer["acc"].value, acc)
    order = np.argsort(-acc[0], kind="stable")[:4]
    assert parent.tolist() == [list(order // 4)] and token.tolist() == [list(order % 4)]
    assert parent[0, 0] == 1 and token[0, 0] == 2  # −1 + log 0.4 beats −3 + log 0.7
    assert np.allclose(finish, top_scores / 3)
    assert np.allclose(beam_step(logp, running, 3, 0.0)[3], top_scores)  # penalty 0: no division
