"""Collectors: step envs with the acting parameters and return a Batch and the finished
episodes (the local NumPy sampler, the Ray sampler, and the acting fast path they share)."""
