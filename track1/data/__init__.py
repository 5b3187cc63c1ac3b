"""Datasets as preloaded arrays with one batching API: `Split.batches(batch_size, rng, ...)`."""
from .common import DataError, Split, load_splits

__all__ = ["DataError", "Split", "load_splits"]
