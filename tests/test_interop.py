import re

import numpy as np
import paddle
import pytest

from track1.config import load_config
from track1.interop import (LayoutError, NAME_TABLE, detect_layout, export_subnet, export_supernet,
                            from_track1, load_into, load_pdparams, to_track1)
from track1.models import SuperNet, StandaloneNet
from track1.profile import Profile


@pytest.fixture(scope="module")
def tiny_in_profile():
    return Profile.from_section((load_config("imagenet", ["profile.image_size=32"])).profile)


@pytest.fixture(scope="module")
def in_net(tiny_in_profile):
    paddle.seed(0)
    return SuperNet(tiny_in_profile)


def _state(net):
    return {k: v.numpy() for k, v in net.state_dict().items()}


def _fm_net(profile, seed, **kw):
    paddle.seed(seed)
    net = SuperNet(profile, **kw)
    rng = np.random.default_rng(seed)
    for name, t in net.state_dict().items():
        if name.endswith("._variance"):
            t.set_value(rng.uniform(0.5, 1.5, t.shape).astype("float32"))
        elif name.endswith("._mean"):
            t.set_value(rng.normal(0, 0.3, t.shape).astype("float32"))
    net.eval()
    return net


# The foreign layouts written out by hand from the sources (track1/interop.py docstring),
# independently of the module's own renaming.
def _ofa_key(k, prefix):
    k = re.sub(r"\.(conv|conv1|conv2|downsample\.0|fc)\.", r".\1.fn.", k)
    return prefix + k


def _ofa_state(state, prefix="model.", teacher=True):
    out = {_ofa_key(k, prefix): v for k, v in state.items()}
    if teacher:
        out.update({"ofa_teacher_model.model." + k: v + 1 for k, v in state.items()})
    out[NAME_TABLE] = {k: f"param_{i}" for i, k in enumerate(out)}
    return out


@pytest.mark.parametrize("prefix,layout", [("model.", "ofa"), ("model._layers.", "ofa_dp")])
def test_ofa_layouts_map_back_exactly(prefix, layout, in_net):
    state = _state(in_net)
    foreign = _ofa_state(state, prefix)
    # Key names quoted by the 3rd-place code (utils/convert_model.py) are what we build.
    quoted = {"ofa": "model.blocks.0.conv.fn.weight", "ofa_dp": "model._layers.blocks.13.bn2.weight"}[layout]
    assert quoted in foreign and "ofa_teacher_model.model.blocks.23.bn2._variance" in foreign
    assert detect_layout(foreign) == layout
    back = to_track1(foreign)
    assert list(back) == list(state)
    for k in state:
        assert back[k] is foreign[_ofa_key(k, prefix)]
    teacher = to_track1(foreign, part="teacher")
    assert list(teacher) == list(state) and all(np.array_equal(teacher[k], state[k] + 1) for k in state)
    # The module's own export writes the same keys.
    assert set(from_track1(state, layout, teacher=state)) == set(foreign) - {NAME_TABLE}


def test_track1_layout_is_the_identity_and_keeps_branches(fm_profile):
    net = SuperNet(fm_profile, [[1, 2, 3], [4, 5, 6, 7]], (3,))
    state = _state(net)
    assert any(".branch_weights." in k for k in state)
    assert detect_layout(state) == "track1"
    back = to_track1(state)
    assert list(back) == list(state) and all(back[k] is state[k] for k in state)
    with pytest.raises(LayoutError, match="branch_weights"):
        from_track1(state, "ofa")


@pytest.mark.parametrize("bad,why", [
    ("model.blocks.3.relu2.weight", "PReLU (RD-NAS resnet_prelu) has no track1 counterpart"),
    ("model.blocks.1.bn1.fn._mean", "Convert does not wrap BNs"),
    ("model.blocks.1.conv1.weight", "Convert wraps every conv"),
    ("model.blocks.24.fc.fn._mean", "no such tensor"),
    ("model._layers.blocks.1.conv1.fn.weight", "a DataParallel key in a single-GPU state"),
])
def test_unmapped_key_refused_in_one_line(bad, why, fm_profile):
    foreign = _ofa_state(_state(SuperNet(fm_profile)), teacher=False)
    foreign[bad] = np.zeros(1, "float32")
    with pytest.raises(LayoutError) as e:
        to_track1(foreign)
    msg = str(e.value)
    assert bad in msg and "\n" not in msg, why


def test_unknown_layout_and_prefix_refused():
    with pytest.raises(LayoutError, match="'net.blocks.0.conv.weight'"):
        to_track1({"net.blocks.0.conv.weight": np.zeros(1)})
    with pytest.raises(LayoutError, match="unknown layout"):
        to_track1({"blocks.0.conv.weight": np.zeros(1)}, layout="timm")


def test_import_ofa_checkpoint_runs_like_the_original(fm_profile, tmp_path):
    src = _fm_net(fm_profile, 1)
    path = tmp_path / "final.pdparams"
    paddle.save(_ofa_state(_state(src), "model._layers."), str(path))
    dst = _fm_net(fm_profile, 2)
    assert load_into(dst, load_pdparams(path)) == "ofa_dp"
    x = paddle.to_tensor(np.random.default_rng(0).normal(size=fm_profile.input_shape(2)).astype("float32"))
    code = fm_profile.space.sample_codes(1, seed=3)[0]
    for net in (src, dst):
        net.set_active_subnet(code)
    np.testing.assert_array_equal(src(x).numpy(), dst(x).numpy())


def test_load_into_refuses_missing_and_misshapen(fm_profile):
    net = SuperNet(fm_profile)
    state = _state(net)
    first = next(iter(state))
    with pytest.raises(LayoutError, match=re.escape(first)):
        load_into(net, {k: v for k, v in state.items() if k != first})
    bad = dict(state, **{first: np.zeros((1, 1), "float32")})
    with pytest.raises(LayoutError, match="shape"):
        load_into(net, bad)


def test_export_supernet_round_trips_through_paddle_load(in_net, tmp_path):
    state = _state(in_net)
    assert len(state) == 252          # the official resnet48's tensor count
    for layout in ("track1", "ofa"):
        path = export_supernet(in_net, tmp_path / f"{layout}.pdparams", layout, teacher=state if layout == "ofa" else None)
        got = paddle.load(str(path))
        want = from_track1(state, layout, teacher=state if layout == "ofa" else None)
        assert list(got) == list(want)
        for k in want:
            np.testing.assert_array_equal(got[k].numpy(), want[k])
        assert list(to_track1(load_pdparams(path))) == list(state)


def test_export_subnet_is_the_standalone_model(fm_profile, tmp_path):
    net = _fm_net(fm_profile, 4)
    code = fm_profile.space.sample_codes(1, seed=8)[0]
    net.set_active_subnet(fm_profile.space.max_code())
    path = export_subnet(net, code, tmp_path / "sub.pdparams")
    assert net.active_code == fm_profile.space.max_code()
    got = paddle.load(str(path))
    sub = StandaloneNet(fm_profile, code)
    assert list(got) == list(sub.state_dict())
    sub.set_state_dict(got)
    sub.eval()
    x = paddle.to_tensor(np.random.default_rng(1).normal(size=fm_profile.input_shape(2)).astype("float32"))
    net.set_active_subnet(code)
    np.testing.assert_allclose(sub(x).numpy(), net(x).numpy(), rtol=1e-5, atol=1e-6)


def test_export_tool_round_trips_through_paddle_load(tmp_path):
    """tools/export.py on a trained supernet: the supernet (track1 and ofa layouts) and a
    sub-network as .pdparams that paddle.load reads back with the checkpoint's arrays."""
    import subprocess
    import sys
    from conftest import REPO, train_run
    from track1.config import load_config
    from track1.runtime import checkpoint
    out = tmp_path / "sn"
    cfg = load_config(None, ["train.train_images=64", "train.batch_size=32", "train.epochs=1", "train.warmup_epochs=0",
                             "train.eval_images=0", "train.engine=dygraph", "train.gt=null", f"train.out_dir={out}"])
    train_run(cfg, log=lambda m: None)
    arrays, _ = checkpoint.load(out / "supernet")
    tool = [sys.executable, str(REPO / "tools" / "export.py"), "--checkpoint", str(out)]
    for layout in ("track1", "ofa"):
        r = subprocess.run(tool + ["--out", str(tmp_path / f"{layout}.pdparams"), "--layout", layout],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        back = to_track1({k: np.asarray(v) for k, v in paddle.load(str(tmp_path / f"{layout}.pdparams")).items()})
        assert back.keys() == arrays.keys() and all(np.array_equal(back[k], arrays[k]) for k in arrays)
    code = Profile.from_section(cfg.profile).space.min_code()
    r = subprocess.run(tool + ["--code", code, "--out", str(tmp_path / "sub.pdparams")], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    sub = StandaloneNet(Profile.from_section(cfg.profile), code)
    sub.set_state_dict(paddle.load(str(tmp_path / "sub.pdparams")))
    r = subprocess.run(tool + ["--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "is a directory" in r.stderr and r.stderr.count("\n") == 1
