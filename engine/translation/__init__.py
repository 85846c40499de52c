"""The encoder–decoder Transformer (Vaswani et al., 2017): the model, its decoding, its training."""
