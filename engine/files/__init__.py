"""Where kqv keeps files and how it writes them: atomic writes, checkpoints, the cache and state folders."""
