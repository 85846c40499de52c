"""The PyTorch eager reference for the GPT benchmark: the same model, step and optimiser.

Same shape and choices as :mod:`engine.gpt.model` so the two time the same work: learned positions,
pre-LN blocks, biases, tanh-GELU, a LM head tied to the token embedding, cross-entropy, global
norm clipping at 1.0, AdamW (β = 0.9, 0.99, weight decay 0.1 on 2-D weights only). It is written
here in our own words for timing only; kqv never imports torch outside ``benchmarks/``.

``TorchStep`` copies the numpy model's initial weights in (transposing its (in, out) weights to
torch's (out, in)), so with the same batches the two losses can also be compared.
"""

from __future__ import annotations

import math

try:
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError:  # the benchmark says "skipped" and goes on without it
    torch = None


def available() -> bool:
    return torch is not None


if torch is not None:

    class Attention(nn.Module):
        def __init__(self, C, nh, bias):
            super().__init__()
            self.nh = nh
            self.c_attn = nn.Linear(C, 3 * C, bias=bias)
            self.c_proj = nn.Linear(C, C, bias=bias)

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.c_attn(x).split(C, dim=2)
            q, k, v = (t.view(B, T, self.nh, C // self.nh).transpose(1, 2) for t in (q, k, v))
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // self.nh))
            mask = torch.ones(T, T, dtype=torch.bool).triu(1)
            att = att.masked_fill(mask, float("-inf")).softmax(dim=-1)
            y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
            return self.c_proj(y)

    class Block(nn.Module):
        def __init__(self, C, nh, bias):
            super().__init__()
            self.ln_1 = nn.LayerNorm(C, bias=bias)
            self.attn = Attention(C, nh, bias)
            self.ln_2 = nn.LayerNorm(C, bias=bias)
            self.c_fc = nn.Linear(C, 4 * C, bias=bias)
            self.c_proj = nn.Linear(4 * C, C, bias=bias)

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.c_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))

    class TorchGPT(nn.Module):
        def __init__(self, cfg):
            super().__init__()
            C = cfg.n_embd
            self.wte = nn.Embedding(cfg.vocab_size, C)
            self.wpe = nn.Embedding(cfg.block_size, C)
            self.h = nn.ModuleList(Block(C, cfg.n_head, cfg.bias) for _ in range(cfg.n_layer))
            self.ln_f = nn.LayerNorm(C, bias=cfg.bias)

        def forward(self, idx, targets):
            T = idx.shape[1]
            x = self.wte(idx) + self.wpe(torch.arange(T))
            for block in self.h:
                x = block(x)
            logits = self.ln_f(x) @ self.wte.weight.T  # tied head
            return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


class TorchStep:
    """One training iteration in PyTorch, started from the numpy model's weights: eager mode,
    or with ``compile=True`` the model's forward (and so its backward) through
    ``torch.compile``; the optimiser step stays eager in both."""

    def __init__(self, numpy_model, weight_decay=0.1, betas=(0.9, 0.99), compile=False):
        cfg = numpy_model.config
        self.model = TorchGPT(cfg)
        self._copy_from(numpy_model)
        self.forward = torch.compile(self.model) if compile else self.model
        decay = [p for p in self.model.parameters() if p.dim() >= 2]
        no_decay = [p for p in self.model.parameters() if p.dim() < 2]
        self.opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                                      {"params": no_decay, "weight_decay": 0.0}], lr=1e-3, betas=betas)

    def _copy_from(self, numpy_model):
        p = numpy_model.params
        m = self.model
        with torch.no_grad():
            m.wte.weight.copy_(torch.from_numpy(p["wte"].copy()))
            m.wpe.weight.copy_(torch.from_numpy(p["wpe"].copy()))
            for i, blk in enumerate(m.h):
                pairs = [(blk.ln_1, f"h{i}.ln_1"), (blk.ln_2, f"h{i}.ln_2"),
                         (blk.attn.c_attn, f"h{i}.attn.c_attn"), (blk.attn.c_proj, f"h{i}.attn.c_proj"),
                         (blk.c_fc, f"h{i}.mlp.c_fc"), (blk.c_proj, f"h{i}.mlp.c_proj")]
                for module, name in pairs:
                    w = p[f"{name}.w"]
                    module.weight.copy_(torch.from_numpy((w.T if w.ndim == 2 else w).copy()))
                    if module.bias is not None:
                        module.bias.copy_(torch.from_numpy(p[f"{name}.b"].copy()))
            m.ln_f.weight.copy_(torch.from_numpy(p["ln_f.w"].copy()))
            if m.ln_f.bias is not None:
                m.ln_f.bias.copy_(torch.from_numpy(p["ln_f.b"].copy()))

    def step(self, x, y, lr: float) -> float:
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        loss = self.forward(xt, yt)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        for group in self.opt.param_groups:
            group["lr"] = lr
        self.opt.step()
        return float(loss.detach())

    def loss(self, x, y) -> float:
        with torch.no_grad():
            return float(self.model(torch.from_numpy(x), torch.from_numpy(y)))

    @staticmethod
    def set_threads(n: int) -> None:
        torch.set_num_threads(n)

    @staticmethod
    def version() -> str:
        return torch.__version__
