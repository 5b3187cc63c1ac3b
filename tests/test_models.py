import numpy as np
import paddle
import paddle.nn as nn
import pytest

from track1.models import StandaloneNet, SuperNet


def count_layers(model: nn.Layer, input_shape) -> dict:
    """MACs and trainable params counted layer by layer on a real forward (for testing the
    analytic cost model): hooks on every Conv2D and Linear record their output shapes."""
    macs = [0]
    hooks = []

    def conv_hook(layer, inp, out):
        k = layer.weight.shape
        macs[0] += int(out.shape[1] * out.shape[2] * out.shape[3] * k[1] * k[2] * k[3]) * out.shape[0]

    def fc_hook(layer, inp, out):
        macs[0] += int(layer.weight.shape[0] * layer.weight.shape[1]) * out.shape[0]

    for layer in model.sublayers():
        if isinstance(layer, nn.Conv2D):
            hooks.append(layer.register_forward_post_hook(conv_hook))
        elif isinstance(layer, nn.Linear):
            hooks.append(layer.register_forward_post_hook(fc_hook))
    was_training = model.training
    model.eval()
    with paddle.no_grad():
        model(paddle.zeros(input_shape))
    if was_training:
        model.train()
    for h in hooks:
        h.remove()
    params = sum(int(p.size) for p in model.parameters() if not p.stop_gradient)
    return {"macs": macs[0] // input_shape[0], "params": params}


def _codes(profile, n, seed):
    sp = profile.space
    return [sp.max_code(), sp.min_code()] + sp.sample_codes(n, seed)


@pytest.mark.parametrize("which,n", [("fm", 50), ("in", 50)])
def test_analytic_cost_equals_layer_count(which, n, fm_profile, in_profile):
    prof = fm_profile if which == "fm" else in_profile
    for code in _codes(prof, n - 2, seed=11):
        net = StandaloneNet(prof, code)
        assert count_layers(net, prof.input_shape(1)) == prof.cost(code), code


def test_official_counts_of_extremes(in_profile):
    # ResNet48 at 224 px: the largest code is a 5-5-8-5 BasicBlock ResNet at 64/128/256/512.
    big = in_profile.cost(in_profile.space.max_code())
    assert big == {"macs": 5282238464, "params": 34043688}
    small = in_profile.cost(in_profile.space.min_code())
    assert small["macs"] < big["macs"] / 4 and small["params"] < big["params"] / 4


def test_projection_exactly_where_official_model_has_one(in_profile):
    code = in_profile.space.max_code()
    net = StandaloneNet(in_profile, code)
    has_proj = [b.downsample is not None for b in net.blocks[1:-1]]
    starts = {0, 5, 10, 18}
    assert has_proj == [i in starts and i != 0 for i in range(23)]


def _perturb_bn(net, seed):
    rng = np.random.default_rng(seed)
    for name, b in net.named_buffers():
        arr = b.numpy()
        b.set_value((np.abs(rng.normal(1, 0.3, arr.shape)) if "variance" in name
                     else rng.normal(0, 0.3, arr.shape)).astype("float32"))
    for name, p in net.named_parameters():
        if "bn" in name or "downsample.1" in name:
            p.set_value(rng.normal(0 if p.name.endswith("b_0") else 1, 0.3, p.shape).astype("float32"))


def test_supernet_equals_extracted_fashion_mnist(fm_profile):
    paddle.seed(0)
    net = SuperNet(fm_profile)
    _perturb_bn(net, 0)
    net.eval()
    x = paddle.to_tensor(np.random.default_rng(0).normal(size=(4, 1, 28, 28)).astype("float32"))
    for code in _codes(fm_profile, 20, seed=5):
        net.set_active_subnet(code)
        y_super = net(x).numpy()
        sub = net.get_active_subnet(code)
        sub.eval()
        y_sub = sub(x).numpy()
        np.testing.assert_allclose(y_super, y_sub, rtol=1e-5, atol=1e-6 * np.abs(y_sub).max())
        assert count_layers(sub, fm_profile.input_shape(1)) == fm_profile.cost(code)


def test_supernet_equals_extracted_imagenet(in_profile):
    paddle.seed(1)
    net = SuperNet(in_profile)
    net.eval()
    x = paddle.to_tensor(np.random.default_rng(1).normal(size=(1, 3, 224, 224)).astype("float32"))
    for code in in_profile.space.sample_codes(2, seed=9):
        net.set_active_subnet(code)
        y_super = net(x).numpy()
        sub = net.get_active_subnet(code)
        sub.eval()
        np.testing.assert_allclose(y_super, sub(x).numpy(), rtol=1e-5, atol=1e-5)
        assert sum(int(p.size) for p in sub.parameters() if not p.stop_gradient) == in_profile.cost(code)["params"]


def test_supernet_training_updates_only_active_bn_slice(fm_profile):
    paddle.seed(2)
    net = SuperNet(fm_profile)
    code = fm_profile.space.min_code()
    net.set_active_subnet(code)
    net.train()
    bn = net.blocks[1].bn1
    before = bn._mean.numpy().copy()
    net(paddle.randn([8, 1, 28, 28]))
    after = bn._mean.numpy()
    c = fm_profile.space.width(0, 3)
    assert np.abs(after[:c] - before[:c]).max() > 0
    assert np.array_equal(after[c:], before[c:])
