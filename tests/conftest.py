import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("GLOG_minloglevel", "2")

import track1  # noqa: E402,F401
from track1.candidates import ENV as CANDIDATES_ENV  # noqa: E402


def official_candidates_path():
    """The official candidate file, if this machine has it (never part of the repo)."""
    for p in (os.environ.get(CANDIDATES_ENV), REPO.parent / "shared" / "data" / "CVPR_2022_NAS_Track1_test.json"):
        if p and Path(p).is_file():
            return Path(p)
    return None


@pytest.fixture(scope="session")
def official_file():
    p = official_candidates_path()
    if p is None:
        pytest.skip("official candidate file absent (set TRACK1_CANDIDATES or place it at ../shared/data/)")
    return p


@pytest.fixture(scope="session")
def fm_cfg():
    from track1.config import load_config
    return load_config("fashion_mnist")


@pytest.fixture(scope="session")
def in_cfg():
    from track1.config import load_config
    return load_config("imagenet")


@pytest.fixture(scope="session")
def fm_profile(fm_cfg):
    from track1.profile import Profile
    return Profile.from_config(fm_cfg)


@pytest.fixture(scope="session")
def in_profile(in_cfg):
    from track1.profile import Profile
    return Profile.from_config(in_cfg)


def make_imagefolder(root: Path, per_class: dict, classes=("n01", "n02", "n03"), size=(40, 50), seed=0) -> Path:
    """A tiny ImageNet-style tree: root/<split>/<class>/<i>.png, random RGB images."""
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(seed)
    for split, n in per_class.items():
        for c in classes:
            (root / split / c).mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(root / split / c / f"{i}.png")
    return root
