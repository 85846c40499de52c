"""The GPT: a decoder-only Transformer (nanoGPT, GPT-2), its KV cache and its training loop."""
