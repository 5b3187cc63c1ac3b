"""Datasets as splits with one batching API: `Split.batches(batch_size, rng, ...)`."""
from .common import DataError, Split, fixed_subset


def load_splits(data, profile, root: str | None = None) -> dict:
    """{'train', 'val', 'test'} splits of the `data` section's dataset, at the geometry of
    `profile` (a Profile or its config section: image_size, num_classes)."""
    if data["dataset"] == "fashion_mnist":
        from .fashion_mnist import load_fashion_mnist_splits
        return load_fashion_mnist_splits(root or data["root"], data["val_size"], data["split_seed"])
    from .imagenet import load_imagenet_splits
    return load_imagenet_splits(root or data["root"], data, profile)


__all__ = ["DataError", "Split", "fixed_subset", "load_splits"]
