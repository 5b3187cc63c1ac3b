import numpy as np
import paddle
import pytest

from track1.config import load_config
from track1.models import SuperNet
from track1.models.reorder import channel_spaces, importance, reorder_by_importance, reorder_state
from track1.profile import Profile


@pytest.fixture(scope="module")
def tiny_in_profile():
    return Profile.from_section((load_config("imagenet", ["profile.image_size=32"])).profile)


def _randomize_bn(net, seed):
    """Random but fixed BN affine parameters and running statistics, so that eval mode
    exercises every permuted tensor (fresh BNs are the identity on every channel)."""
    rng = np.random.default_rng(seed)
    for name, t in net.state_dict().items():
        if name.endswith("._variance"):
            t.set_value(rng.uniform(0.5, 1.5, t.shape).astype("float32"))
        elif name.endswith("._mean") or (name.endswith(".bias") and ".fc." not in name):
            t.set_value(rng.normal(0, 0.3, t.shape).astype("float32"))
        elif name.endswith(".weight") and t.ndim == 1:
            t.set_value(rng.normal(1, 0.3, t.shape).astype("float32"))


def _net(profile, seed, **kw):
    paddle.seed(seed)
    net = SuperNet(profile, **kw)
    _randomize_bn(net, seed)
    net.eval()
    return net


def _logits(net, code, x):
    net.set_active_subnet(code)
    with paddle.no_grad():
        return net(x).numpy()


def _assert_close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * np.abs(b).max())


@pytest.mark.parametrize("which", ["fm", "in"])
def test_largest_subnet_outputs_unchanged(which, fm_profile, tiny_in_profile):
    prof = fm_profile if which == "fm" else tiny_in_profile
    net = _net(prof, 3)
    x = paddle.to_tensor(np.random.default_rng(0).normal(size=prof.input_shape(2)).astype("float32"))
    big = prof.space.max_code()
    before = _logits(net, big, x)
    perms = reorder_by_importance(net)
    # Something moved, or the test would prove nothing.
    assert any((p != np.arange(len(p))).any() for p in perms.values())
    _assert_close(_logits(net, big, x), before)


def test_spaces_follow_the_shortcuts(fm_profile):
    net = SuperNet(fm_profile)
    names = [s.name for s in channel_spaces(net)]
    # Stage 1 has stride 1 and no projection: it shares the stem's channels.
    assert "stem+stage1" in names and "stage1" not in names
    assert {"stage2", "stage3", "stage4"} <= set(names)
    assert sum(n.endswith(".mid") for n in names) == sum(len(s) for s in net.slots)


def test_leading_channels_are_the_most_important(fm_profile):
    net = _net(fm_profile, 4)
    reorder_by_importance(net)
    state = {k: v.numpy() for k, v in net.state_dict().items()}
    for name, imp in importance(state, net).items():
        assert (np.diff(imp) <= 1e-6 * imp.max()).all(), name


def test_narrow_subnet_inherits_top_channels(fm_profile):
    net = _net(fm_profile, 5)
    old = {k: v.numpy() for k, v in net.state_dict().items()}
    imp = importance(old, net)
    reorder_by_importance(net)
    code = fm_profile.space.min_code()
    sub = net.get_active_subnet(code)
    spec = fm_profile.spec(code)
    top = {k: np.argsort(-v, kind="stable") for k, v in imp.items()}

    def space(part):
        return top[next(n for n in top if part in n.split("+"))]

    for blk, bs in zip(sub.blocks[1:-1], spec.blocks):
        idx = net.slots[bs.stage][bs.index]
        mid = top[f"blocks.{idx}.mid"][:bs.mid]
        src = space(f"stage{bs.stage + 1}") if bs.index else space(f"stage{bs.stage}" if bs.stage else "stem")
        want = old[f"blocks.{idx}.conv1.weight"][mid][:, src[:bs.cin]]
        np.testing.assert_array_equal(blk.conv1.weight.numpy(), want)
        np.testing.assert_array_equal(blk.bn1._mean.numpy(), old[f"blocks.{idx}.bn1._mean"][mid])
        out = space(f"stage{bs.stage + 1}")[:bs.cout]
        np.testing.assert_array_equal(blk.bn2.weight.numpy(), old[f"blocks.{idx}.bn2.weight"][out])
    head = f"blocks.{len(net.blocks) - 1}.fc.weight"
    np.testing.assert_array_equal(sub.blocks[-1].fc.weight.numpy(), old[head][space("stage4")[:spec.out_channels]])


def test_branch_weights_permuted_like_weight(fm_profile):
    net = _net(fm_profile, 6, branch_groups=[[1, 2, 3], [4, 5], [6, 7]], branch_stages=(2, 3))
    net.open_branches((2, 3))
    # Each branch a distinct multiple of the shared weight: any other permutation breaks it.
    state = {k: v.numpy() for k, v in net.state_dict().items()}
    for k in state:
        if ".branch_weights." in k:
            j = int(k.rsplit(".", 1)[1])
            state[k] = state[k.split(".branch_weights.")[0] + ".weight"] * (j + 2)
    new, perms = reorder_state(state, net)
    n = 0
    for k in new:
        if ".branch_weights." in k:
            j = int(k.rsplit(".", 1)[1])
            np.testing.assert_array_equal(new[k], new[k.split(".branch_weights.")[0] + ".weight"] * (j + 2))
            n += 1
    assert n > 0
    assert not np.array_equal(new["blocks.12.conv1.weight"], state["blocks.12.conv1.weight"])


def test_pure_function_leaves_input_alone(fm_profile):
    net = _net(fm_profile, 7)
    state = {k: v.numpy() for k, v in net.state_dict().items()}
    copy = {k: v.copy() for k, v in state.items()}
    reorder_state(state, net)
    for k in state:
        np.testing.assert_array_equal(state[k], copy[k])
