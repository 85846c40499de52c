"""Data sets and how they are read: MNIST's idx files, synthetic digits, text, downloads."""
