"""The engine: pure numpy models, layers, optimisers, data loading and the trace."""
