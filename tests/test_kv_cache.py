"""Generation with a KV cache: the same logits as running the whole context, one position a step.

The cached run is held against the uncached forward pass of the same model (the GPT-2 golden
files in tests/data hold it against transformers as well, see test_hf_gpt2.py).
"""

import numpy as np
import pytest

from engine.errors import KqvError
from engine.gpt.model import GPT, GPTConfig
from engine.trace import Tracer

CFG = GPTConfig(vocab_size=13, block_size=8, n_layer=2, n_head=2, n_embd=16)


def test_each_cached_step_gives_the_logits_of_the_whole_context():
    model = GPT(CFG, seed=3, dtype=np.float64)
    ids = np.random.default_rng(0).integers(0, CFG.vocab_size, size=(2, 7))
    full, _ = model.forward(ids)  # (B, T, V)
    kv = model.kv_cache(B=2)
    prefix, _ = model.forward(ids[:, :3], cache=kv)  # the prompt: 3 positions at once
    np.testing.assert_allclose(prefix, full[:, :3], atol=1e-12)
    for t in range(3, 7):
        step, _ = model.forward(ids[:, t : t + 1], cache=kv)  # one position
        assert step.shape == (2, 1, CFG.vocab_size)
        np.testing.assert_allclose(step[:, 0], full[:, t], atol=1e-12)
    assert kv.t == 7


def test_a_cached_step_is_traced_as_generate_with_the_cache_shapes():
    model = GPT(CFG, seed=3)
    kv = model.kv_cache()
    model.forward(np.array([[1, 2, 3, 4]]), cache=kv)
    tracer = Tracer(dims=model.dims(B=1, T=1, t=5))
    with tracer.phase("generate"):
        model.forward(np.array([[5]]), tracer=tracer, cache=kv)
    assert {r.phase for r in tracer} == {"generate"}
    k_cache, att = tracer["h1.k_cache"], tracer["h1.att"]
    assert k_cache.shape == (1, 2, 5, 8) and k_cache.symbolic == ("B", "nh", "t", "hs")
    assert att.shape == (1, 2, 1, 5) and att.symbolic == ("B", "nh", "T", "t")
    assert tracer["pos_emb"].formula == "wpe[4:4+T]"
    assert tracer.mismatches() == []


def test_the_causal_mask_of_a_chunk_after_the_cache_hides_only_later_positions():
    model = GPT(CFG, seed=3)
    kv = model.kv_cache()
    model.forward(np.array([[1, 2]]), cache=kv)
    tracer = Tracer(dims=model.dims(B=1, T=3, t=5))
    model.forward(np.array([[3, 4, 5]]), tracer=tracer, cache=kv)
    att = tracer["h0.att"].value[0, 0]  # (T, t) = (3, 5): queries at positions 2, 3, 4
    assert np.all(att[0, 3:] == 0) and np.all(att[0, :3] > 0)
    assert np.all(att[1, 4:] == 0) and np.all(att[2] > 0)


def test_last_only_gives_the_last_positions_logits_and_refuses_targets():
    model = GPT(CFG, seed=3, dtype=np.float64)
    ids = np.random.default_rng(1).integers(0, CFG.vocab_size, size=(2, 5))
    full, _ = model.forward(ids)
    last, _ = model.forward(ids, last_only=True)
    assert last.shape == (2, 1, CFG.vocab_size)
    np.testing.assert_allclose(last, full[:, -1:], atol=1e-12)
    with pytest.raises(KqvError, match="last_only"):
        model.forward(ids, ids, last_only=True)


def test_sampling_with_and_without_the_cache_draws_the_same_tokens():
    model = GPT(CFG, seed=3, dtype=np.float64)
    prompt = np.array([1, 2, 3])
    cached = list(model.stream(prompt, 5, rng=np.random.default_rng(7)))
    uncached = list(model.stream(prompt, 5, rng=np.random.default_rng(7), cache=False))
    assert cached == uncached  # 3 + 5 = 8 positions: within block_size, so the same context


def test_sampling_past_block_size_refills_the_cache_and_keeps_going():
    model = GPT(CFG, seed=3)
    out = list(model.stream(np.array([1]), 30, rng=np.random.default_rng(0)))
    assert len(out) == 30 and all(0 <= i < CFG.vocab_size for i in out)


def test_a_full_cache_refuses_more_positions_in_one_line():
    model = GPT(CFG, seed=3)
    kv = model.kv_cache()
    model.forward(np.zeros((1, 8), dtype=np.int64), cache=kv)
    with pytest.raises(KqvError, match="KV cache holds 8 positions"):
        model.forward(np.zeros((1, 1), dtype=np.int64), cache=kv)


def test_a_model_built_without_init_takes_loaded_weights():
    trained = GPT(CFG, seed=3)
    empty = GPT(CFG, init=False)
    empty.load_params(trained.params)
    ids = np.array([[1, 2, 3]])
    np.testing.assert_array_equal(empty.forward(ids)[0], trained.forward(ids)[0])


class Clock:
    """A clock the test moves: each stand-in call says how long it took, so the chooser's
    decisions do not depend on how busy the shared machine is."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def spend(self, seconds: float) -> None:
        self.now += seconds


def test_generation_keeps_the_blas_thread_count_that_ran_faster():
    from engine.runtime.blas import FasterThreads

    every = blas_threads_now()  # the library's own count: every core
    if every == 1:
        pytest.skip("one BLAS thread only: nothing to choose between")
    clock = Clock()

    def step(slow_with):  # a stand-in for one generation step that is slow on `slow_with` threads
        clock.spend(0.05 if blas_threads_now() == slow_with else 0.001)
        return blas_threads_now()

    for slow, fast, chosen in ((every, 1, 1), (1, every, None)):
        chooser = FasterThreads(trials=3, clock=clock)
        used = [chooser(step, slow) for _ in range(9)]
        assert used[:6] == [1, every] * 3  # both tried, alternately
        assert chooser.decided and chooser.chosen == chosen and used[6:] == [fast] * 3


def blas_threads_now() -> int:
    from threadpoolctl import threadpool_info

    return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")


def test_a_choice_that_turns_slow_is_timed_again_and_changed():
    """Two threads first faster, then (another job took the other core) 20x slower: after two
    slow calls in a row both are timed again, and one thread is kept."""
    from engine.runtime.blas import FasterThreads

    every = blas_threads_now()
    if every == 1:
        pytest.skip("one BLAS thread only: nothing to choose between")
    busy = False
    clock = Clock()

    def step():  # 2 ms on the faster count; 40 ms on the slower one
        slow = (blas_threads_now() == every) if busy else (blas_threads_now() == 1)
        clock.spend(0.04 if slow else 0.002)
        return blas_threads_now()

    chooser = FasterThreads(trials=3, clock=clock)
    used = [chooser(step) for _ in range(10)]
    assert chooser.chosen is None and used[6:] == [every] * 4 and chooser.retimed == 0
    busy = True
    used = [chooser(step) for _ in range(2 + 6 + 3)]
    assert used[:2] == [every, every]  # two slow calls: the strikes
    assert chooser.retimed == 1 and used[2:8] == [1, every] * 3  # both timed again
    assert chooser.chosen == 1 and used[8:] == [1] * 3


def test_a_one_off_call_runs_on_the_count_its_probe_found_faster():
    from engine.gpt.model import GPT, GPTConfig
    from engine.runtime.blas import FasterThreads

    every = blas_threads_now()
    if every == 1:
        pytest.skip("one BLAS thread only: nothing to choose between")
    clock = Clock()
    chooser = FasterThreads(clock=clock)
    assert chooser.decide_with(lambda: clock.spend(0.02 if blas_threads_now() == every else 0.001)) == 1
    assert chooser(blas_threads_now) == 1
    model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8), seed=3)
    ids = np.array([[1, 2, 3, 4]])
    np.testing.assert_array_equal(model.forward_on_faster_threads(ids)[0], model.forward(ids)[0])
