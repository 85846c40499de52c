"""Training the GPT: determinism, learning, checkpoints, exact resume, sampling, bad text."""

import numpy as np
import pytest

from conftest import SHAKESPEARE, needs_shakespeare
from engine.data.text import CharVocab, TextData, get_batch, read_text
from engine.errors import KqvError, TrainingDiverged
from engine.gpt.checkpoint import load_gpt
from engine.gpt.model import GPT, GPTConfig
from engine.gpt.sampling import sample_next
from engine.gpt.train import GPTTrainer, TrainConfig
from engine.optim import AdamW, clip_grad_norm, lr_at

# A small text with structure to learn: lines of a few repeated words.
TEXT = "".join(f"the {w} sat on the mat.\n" for w in ["cat", "dog", "hen", "fox", "owl"] * 40)


def tiny(block_size=16, **kw):
    data = TextData.from_text(TEXT, block_size, "test text")
    cfg = GPTConfig(vocab_size=data.vocab.size, block_size=block_size, n_layer=2, n_head=2, n_embd=32)
    tc = TrainConfig(**{"batch_size": 8, "max_iters": 20, "eval_interval": 10, "eval_iters": 2,
                        "threads": 1, **kw})
    return data, cfg, tc


def test_same_seed_same_first_losses_other_seed_differs():
    data, cfg, tc = tiny(max_iters=5)
    a = GPTTrainer(data, cfg, tc).run().losses
    b = GPTTrainer(data, cfg, tc).run().losses
    c = GPTTrainer(data, cfg, TrainConfig(**{**tc.__dict__, "seed": 7})).run().losses
    assert len(a) == 5 and a == b
    assert a != c


def test_fifty_steps_lower_the_loss():
    data, cfg, tc = tiny(max_iters=50, eval_interval=50, lr=3e-3, warmup_iters=5)
    result = GPTTrainer(data, cfg, tc).run()
    assert result.evals[0].iter == 0 and result.evals[-1].iter == 50
    assert result.evals[-1].train_loss < result.evals[0].train_loss - 1.0
    assert np.mean(result.losses[-5:]) < result.losses[0] - 1.0


def test_a_run_whose_out_another_run_wrote_meanwhile_saves_beside_it(tmp_path):
    """Two runs, one --out: the short one finishes while this one trains. Its file stays, and
    this run's later saves go to g.<pid>.npz, which the result and the claim's note name."""
    out = tmp_path / "g.npz"
    data, cfg, tc = tiny(max_iters=20, eval_interval=5)
    trainer = GPTTrainer(data, cfg, tc, out=out)

    def another_run_saves(info):
        if info.iter == 10:
            GPTTrainer(data, cfg, TrainConfig(**{**tc.__dict__, "max_iters": 2}), out=out).run()

    result = trainer.run(on_eval=another_run_saves)
    assert load_gpt(out)[2]["iter"] == 2  # the short run's checkpoint, left whole
    assert result.checkpoint.name.startswith("g.") and result.checkpoint != out
    assert load_gpt(result.checkpoint)[2]["iter"] == 20
    assert str(out) in trainer.claim.note() and str(result.checkpoint) in trainer.claim.note()


def test_a_run_alone_saves_where_it_was_told(tmp_path):
    data, cfg, tc = tiny(max_iters=10, eval_interval=5)
    trainer = GPTTrainer(data, cfg, tc, out=tmp_path / "g.npz")
    assert trainer.run().checkpoint == tmp_path / "g.npz" and trainer.claim.note() is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.npz"]


def test_checkpoint_round_trip(tmp_path):
    data, cfg, tc = tiny(max_iters=3)
    trainer = GPTTrainer(data, cfg, tc, out=tmp_path / "g.npz")
    trainer.run()
    model, vocab, meta = load_gpt(tmp_path / "g.npz")
    assert vocab == data.vocab and meta["iter"] == 3 and model.config == trainer.model.config
    np.testing.assert_array_equal(model.flat_params, trainer.model.flat_params)
    idx = data.val[None, :16]
    np.testing.assert_array_equal(model.forward(idx)[0], trainer.model.forward(idx)[0])


@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_resume_continues_the_same_loss_curve_exactly(tmp_path, dropout):
    data, cfg, tc = tiny(max_iters=16, eval_interval=5)
    cfg = GPTConfig(**{**cfg.to_dict(), "dropout": dropout})
    whole = GPTTrainer(data, cfg, tc)
    straight = whole.run()

    first = GPTTrainer(data, cfg, tc, out=tmp_path / "g.npz")
    stopped = first.run(should_stop=lambda: first.iter >= 7)  # as Ctrl-C would, between iterations
    assert stopped.stopped and stopped.iters == 7
    second = GPTTrainer(data, cfg, tc, resume=tmp_path / "g.npz")
    resumed = second.run()
    assert resumed.losses == straight.losses
    np.testing.assert_array_equal(second.model.flat_params, whole.model.flat_params)
    np.testing.assert_array_equal(second.opt.v, whole.opt.v)
    assert [e.val_loss for e in resumed.evals] == [e.val_loss for e in straight.evals]


def test_resume_refuses_another_vocabulary(tmp_path):
    data, cfg, tc = tiny(max_iters=2)
    GPTTrainer(data, cfg, tc, out=tmp_path / "g.npz").run()
    other = TextData.from_text(TEXT.upper() * 2, 16)
    with pytest.raises(KqvError, match="another vocabulary"):
        GPTTrainer(other, cfg, tc, resume=tmp_path / "g.npz")


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    data, cfg, tc = tiny(max_iters=30, eval_interval=5)
    trainer = GPTTrainer(data, cfg, tc, out=tmp_path / "g.npz")

    def poison():
        if trainer.iter == 8:
            trainer.model.params["h0.attn.c_attn.w"][0, 0] = np.nan
        return False

    with pytest.raises(TrainingDiverged, match=r"nan at iteration 9.*g.npz \(iteration 5\) is kept"):
        trainer.run(should_stop=poison)
    model, _, meta = load_gpt(tmp_path / "g.npz")
    assert meta["iter"] == 5 and np.all(np.isfinite(model.flat_params))


def test_sampler_honours_seed_top_k_and_temperature():
    cfg = GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=2, n_embd=16)
    model = GPT(cfg, seed=0)
    model.flat_params[...] *= 20  # sharper logits than at initialisation
    a = model.generate([1, 2], 30, temperature=1.0, top_k=None, rng=np.random.default_rng(5))
    b = model.generate([1, 2], 30, temperature=1.0, top_k=None, rng=np.random.default_rng(5))
    c = model.generate([1, 2], 30, temperature=1.0, top_k=None, rng=np.random.default_rng(6))
    assert a.tolist() == b.tolist() and a.tolist() != c.tolist() and a[:2].tolist() == [1, 2]
    g1 = model.generate([1], 20, top_k=1, rng=np.random.default_rng(1))
    g2 = model.generate([1], 20, top_k=1, rng=np.random.default_rng(2))
    assert g1.tolist() == g2.tolist()  # top-k 1 is greedy whatever the seed

    logits = np.array([3.0, 2.5, 0.0, -1.0, 1.0])
    rng = np.random.default_rng(0)
    draws = [sample_next(logits, 1.0, 2, rng) for _ in range(400)]
    assert set(draws) == {0, 1}
    cold = [sample_next(logits, 0.05, None, rng) for _ in range(200)]
    hot = [sample_next(logits, 5.0, None, rng) for _ in range(400)]
    assert set(cold) == {0} and len(set(hot)) == 5
    with pytest.raises(KqvError, match="temperature"):
        next(model.stream([1], 1, temperature=0))


def test_lr_schedule_and_clipping():
    assert lr_at(0, 1e-3, 1e-4, 100, 2000) == pytest.approx(1e-3 / 101)
    assert lr_at(100, 1e-3, 1e-4, 100, 2000) == pytest.approx(1e-3)
    assert lr_at(1050, 1e-3, 1e-4, 100, 2000) == pytest.approx(5.5e-4)
    assert lr_at(2000, 1e-3, 1e-4, 100, 2000) == pytest.approx(1e-4)
    g = np.array([3.0, 4.0], dtype=np.float32)
    assert clip_grad_norm(g, 1.0) == pytest.approx(5.0)
    np.testing.assert_allclose(g, [0.6, 0.8], rtol=1e-5)


def test_adamw_matches_the_textbook_update_and_decays_only_weights():
    rng = np.random.default_rng(0)
    p = rng.standard_normal(6)
    g = rng.standard_normal(6)
    opt = AdamW(p.copy(), g.copy(), n_decay=4, weight_decay=0.1, betas=(0.9, 0.99))
    opt.step(0.01)
    m, v = 0.1 * g, 0.01 * g * g
    want = p.copy()
    want[:4] *= 1 - 0.01 * 0.1
    want -= 0.01 * (m / 0.1) / (np.sqrt(v / 0.01) + 1e-8)
    np.testing.assert_allclose(opt.params, want, rtol=1e-10)
    halves = AdamW(p.copy(), g.copy(), n_decay=4, weight_decay=0.1, betas=(0.9, 0.99))
    halves.step(0.01, parallel=lambda f, a, b: (f(a), f(b)))  # split at 3: decay crosses it
    np.testing.assert_array_equal(halves.params, opt.params)


def test_vocab_and_batches():
    vocab = CharVocab.from_text("hello world")
    assert vocab.chars == " dehlorw" and vocab.decode(vocab.encode("low")) == "low"
    with pytest.raises(KqvError, match="'z'"):
        vocab.encode("zoo")
    data = np.arange(100)
    x, y = get_batch(data, 4, 8, np.random.default_rng(0))
    assert x.shape == y.shape == (4, 8)
    np.testing.assert_array_equal(y, x + 1)


@pytest.mark.parametrize(
    "content, words",
    [(b"", "is empty"), (b"\xff\xfe\x00bad", "not UTF-8"), (b"tiny text", "too short")],
)
def test_bad_text_files(tmp_path, content, words):
    path = tmp_path / "t.txt"
    path.write_bytes(content)
    with pytest.raises(KqvError, match=words):
        TextData.from_file(path, block_size=16)
    with pytest.raises(KqvError, match="no text file"):
        read_text(tmp_path / "missing.txt")


@needs_shakespeare
def test_tiny_shakespeare_starts_at_chance_and_learns():
    data = TextData.from_file(SHAKESPEARE, 64)
    assert data.vocab.size == 65 and data.train.size == 1_003_854 and data.val.size == 111_540
    cfg = GPTConfig(vocab_size=65, block_size=32, n_layer=1, n_head=2, n_embd=32)
    result = GPTTrainer(data, cfg, TrainConfig(max_iters=30, eval_interval=30, eval_iters=2, threads=1,
                                               lr=3e-3, warmup_iters=5)).run()
    assert result.losses[0] == pytest.approx(np.log(65), abs=0.05)  # uniform guess at the start
    assert result.evals[-1].val_loss < 3.4


def test_thread_chooser_keeps_the_faster_count_and_rechecks(monkeypatch):
    from engine.gpt.halves import ThreadChooser

    monkeypatch.setattr("os.cpu_count", lambda: 2)
    chooser = ThreadChooser(None, recheck=10, probe=2)
    cost = {1: 0.010, 2: 0.020}  # two threads slow: the other core is busy
    seen = []
    for _ in range(15):
        n = chooser.next()
        seen.append(n)
        chooser.record(n, cost[n])
    assert seen[1:5] == [2, 1, 2, 1] and chooser.best == 1
    assert seen[5:13] == [1] * 8 and seen[13:15] == [2, 2]  # the probe at the end of the window
    cost = {1: 0.010, 2: 0.005}  # the other core is free again
    for _ in range(12):
        n = chooser.next()
        chooser.record(n, cost[n])
    assert chooser.best == 2
    assert sum(chooser.summary().values()) == 27
    assert ThreadChooser(1).next() == 1 and ThreadChooser(2).next() == 2


@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_halves_side_by_side_give_the_same_numbers_as_one_after_the_other(dropout):
    data, cfg, tc = tiny(max_iters=6)
    cfg = GPTConfig(**{**cfg.to_dict(), "dropout": dropout})
    runs = [GPTTrainer(data, cfg, TrainConfig(**{**tc.__dict__, "threads": n})) for n in (1, 2)]
    results = [t.run() for t in runs]
    assert results[0].losses == results[1].losses
    assert results[0].evals == results[1].evals
    np.testing.assert_array_equal(runs[0].model.flat_params, runs[1].model.flat_params)


def test_halves_average_to_the_whole_batch_gradient():
    from engine.gpt.halves import HalfBatches

    cfg = GPTConfig(vocab_size=9, block_size=6, n_layer=1, n_head=2, n_embd=8)
    model = GPT(cfg, seed=0, dtype=np.float64)
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 9, (5, 6)), rng.integers(0, 9, (5, 6))  # odd B: halves of 2 and 3
    _, whole = model.forward(x, y)
    model.backward()
    want = model.flat_grads.copy()
    loss = HalfBatches(model).loss_and_grads(x, y, (None, None), parallel=True)
    assert loss == pytest.approx(whole, rel=1e-12)
    np.testing.assert_allclose(model.flat_grads, want, rtol=1e-10, atol=1e-14)


def test_split_loss_is_the_mean_over_non_overlapping_windows():
    from engine.gpt.train import split_loss

    data, cfg, _ = tiny()
    model = GPT(cfg, seed=0)
    ids = data.val[: 16 * 5 + 1]
    windows = [(ids[None, i * 16 : (i + 1) * 16], ids[None, i * 16 + 1 : (i + 1) * 16 + 1]) for i in range(5)]
    want = np.mean([model.forward(x, y)[1] for x, y in windows])
    assert split_loss(model, ids, batch_size=2) == pytest.approx(want, rel=1e-6)
