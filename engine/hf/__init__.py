"""The Hugging Face bridge: GPT-2 weights, its tokenizer, the hub and the export to transformers."""
