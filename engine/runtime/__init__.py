"""The machine the engine runs on: BLAS threads and memory estimates made before allocating."""
