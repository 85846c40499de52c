"""The embedding: a reference solution."""

from kqv_practice import show


def embedding_forward(idx, wte, wpe):
    """wte[idx] + wpe[0:T]: (B, T) ids -> (B, T, C)."""
    B, T = idx.shape
    tok_emb = show("tok_emb", wte[idx])  # (B, T, C): a row of wte for every id
    pos_emb = show("pos_emb", wpe[:T])  # (T, C): positions 0..T−1
    return tok_emb + pos_emb  # (B, T, C) + (T, C) broadcasts over B
