"""The digit network of Nielsen's book: sigmoid layers trained by SGD, examples as columns."""
