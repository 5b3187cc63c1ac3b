import gzip

import numpy as np
import pytest

from track1.data import DataError, load_splits
from track1.data.common import augment_batch
from track1.data.fashion_mnist import FILES, find_root, read_idx


def test_real_fashion_mnist_splits(fm_cfg):
    s = load_splits(fm_cfg.data, fm_cfg.profile)
    assert len(s["train"]) + len(s["val"]) == 60000 and len(s["test"]) == 10000
    assert len(s["val"]) == fm_cfg.data.val_size
    assert s["train"].images.shape[1:] == (1, 28, 28) and s["train"].images.dtype == np.uint8
    # the 10 classes are balanced in the test set, as published
    assert np.bincount(s["test"].labels).tolist() == [1000] * 10
    x, y = next(s["train"].batches(64, np.random.default_rng(0), augment=True))
    assert x.shape == (64, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    assert abs(float(s["train"].arrays(5000)[0].mean())) < 0.1      # normalised


def test_split_is_seeded_and_disjoint(fm_cfg):
    a, b = load_splits(fm_cfg.data, fm_cfg.profile), load_splits(fm_cfg.data, fm_cfg.profile)
    assert np.array_equal(a["val"].labels, b["val"].labels)
    tr = {x.tobytes() for x in a["train"].images[:3000]}
    assert not any(v.tobytes() in tr for v in a["val"].images[:200])


def test_batch_order_follows_the_generator(fm_cfg):
    s = load_splits(fm_cfg.data, fm_cfg.profile)["val"]
    y1 = np.concatenate([y for _, y in s.batches(100, np.random.default_rng(5))])
    y2 = np.concatenate([y for _, y in s.batches(100, np.random.default_rng(5))])
    y3 = np.concatenate([y for _, y in s.batches(100, np.random.default_rng(6))])
    assert np.array_equal(y1, y2) and not np.array_equal(y1, y3)
    assert sorted(y1.tolist()) == sorted(s.labels.tolist())


def test_augment_is_pad_crop_and_flip():
    img = np.arange(2 * 1 * 4 * 4, dtype=np.uint8).reshape(2, 1, 4, 4) + 1
    out = augment_batch(img, np.random.default_rng(0), pad=0, flip=True)
    for o, i in zip(out, img):
        assert np.array_equal(o, i) or np.array_equal(o, i[..., ::-1])
    out = augment_batch(img, np.random.default_rng(1), pad=1, flip=False)
    assert out.shape == img.shape
    # each output is a shifted window: its non-zero values are a contiguous block of the input
    for o, i in zip(out, img):
        nz = o[o > 0]
        assert set(nz.tolist()) <= set(i.ravel().tolist())


def test_given_root_must_hold_the_data(tmp_path, monkeypatch):
    monkeypatch.delenv("TRACK1_DATA", raising=False)
    with pytest.raises(DataError, match=f"data root '{tmp_path / 'absent'}' does not exist"):
        find_root(str(tmp_path / "absent"))
    with pytest.raises(DataError, match="lacks train-images-idx3-ubyte.gz"):
        find_root(str(tmp_path))
    monkeypatch.setenv("TRACK1_DATA", str(tmp_path / "env"))
    with pytest.raises(DataError, match="TRACK1_DATA '.*env' does not exist"):
        find_root(None)


def test_missing_data_lists_where_it_looked(tmp_path, monkeypatch):
    import track1.data.fashion_mnist as fm
    monkeypatch.setattr(fm, "DEBIAN_DIR", str(tmp_path / "debian"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("TRACK1_DATA", raising=False)
    with pytest.raises(DataError) as e:
        fm.find_root(None)
    msg = str(e.value)
    assert str(tmp_path / "debian") in msg and "apt-get install dataset-fashion-mnist" in msg
    assert "TRACK1_DATA" in msg and "\n" not in msg


def test_truncated_idx_file(tmp_path):
    p = tmp_path / "x.gz"
    with gzip.open(p, "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + (100).to_bytes(4, "big") + bytes(10))
    with pytest.raises(DataError, match="truncated"):
        read_idx(p)
    assert set(FILES) == {"train_images", "train_labels", "test_images", "test_labels"}


def test_imagenet_folder_layout(tmp_path, in_cfg):
    from conftest import make_imagefolder
    from track1.config import load_config
    root = make_imagefolder(tmp_path / "imnet", {"train": 6, "val": 2})
    cfg = load_config("imagenet", [f"data.root={root}", "profile.num_classes=3", "data.val_size=3",
                                   "data.workers=0", "profile.image_size=32"])
    s = load_splits(cfg.data, cfg.profile)
    assert (len(s["train"]), len(s["val"]), len(s["test"])) == (15, 3, 6)
    x, y = next(s["train"].batches(4, np.random.default_rng(0), augment=True))
    assert x.shape == (4, 3, 32, 32) and x.dtype == np.float32 and set(y.tolist()) <= {0, 1, 2}
    x, _ = next(s["test"].batches(6))
    assert x.shape == (6, 3, 32, 32)
    xa, ya = s["test"].arrays()
    assert xa.shape == (6, 3, 32, 32) and np.array_equal(xa, x) and len(ya) == 6
    # two ranks decode only their halves of each batch, and together give the one-process batches
    whole = list(s["train"].batches(4, np.random.default_rng(1), augment=True, drop_last=True))
    halves = [list(s["train"].batches(4, np.random.default_rng(1), augment=True, drop_last=True, part=(r, 2)))
              for r in (0, 1)]
    assert len(whole) == 3 and all(len(h) == 3 and h[0][0].shape == (2, 3, 32, 32) for h in halves)
    for b, (x, y) in enumerate(whole):
        np.testing.assert_array_equal(np.concatenate([halves[0][b][0], halves[1][b][0]]), x)
        np.testing.assert_array_equal(np.concatenate([halves[0][b][1], halves[1][b][1]]), y)
    (root / "val" / "n03").rename(root / "val" / "n04")
    with pytest.raises(DataError, match="differ from train"):
        load_splits(cfg.data, cfg.profile)
    with pytest.raises(DataError, match="no data root"):
        load_splits((load_config("imagenet")).data, (load_config("imagenet")).profile)
