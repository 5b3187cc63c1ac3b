from pathlib import Path

import pytest

import track1  # noqa: F401  (quiets Paddle before any test imports it: track1.quiet)

REPO = Path(__file__).resolve().parent.parent


# Under pytest-xdist (tools/test.sh: -n 2 --dist loadfile) files are handed to the workers in
# collection order; the long ones go first, so none starts last and leaves one worker alone.
LONG_FIRST = ("test_train_static.py", "test_faults.py", "test_train.py", "test_scoring.py", "test_gt.py", "test_gpu_smoke.py",
              "test_baseline_equivalence.py", "test_reliability.py", "test_fewshot.py", "test_scoring_device.py",
              "test_standalone_launch.py", "test_checkpoints.py", "test_proxies.py", "test_nar.py")


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(Path(str(item.fspath)).name, len(rank)))   # stable: in-file order kept


def official_candidates_path():
    """The official candidate file, if this machine has it (never part of the repo)."""
    from track1.candidates import resolve_path
    p = resolve_path()
    return p if p is not None and p.is_file() else None


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
    return Profile.from_section(fm_cfg.profile)


@pytest.fixture(scope="session")
def in_profile(in_cfg):
    from track1.profile import Profile
    return Profile.from_section(in_cfg.profile)


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


def build_supernet(cfg, profile):
    """The supernet a training run of `cfg` trains (weight branches for progressive)."""
    from track1.models import SuperNet
    from track1.train.loop import supernet_definition
    return SuperNet.from_definition(profile, supernet_definition(cfg, profile))


def branched_supernet(cfg, profile, seed: int = 3):
    """A progressive supernet with its weight branches open and moved away (seeded) from the
    shared weights, so a scorer that ignored a branch would score differently."""
    import numpy as np
    import paddle
    paddle.seed(seed)
    net = build_supernet(cfg, profile)
    opened = list(cfg.progressive.branch_stages)
    net.open_branches(opened)
    rng = np.random.default_rng(0)
    for idx in (i for s in opened for i in net.slots[s]):
        for conv in net.blocks[idx].convs():
            for w in conv.branch_weights:
                w.set_value(w.numpy() * rng.uniform(0.5, 1.5, w.shape).astype("float32"))
    return net


def train_run(cfg, **kw):
    """`train` on the config's own profile."""
    from track1.profile import Profile
    from track1.train.loop import train
    return train(cfg, Profile.from_section(cfg.profile), **kw)
