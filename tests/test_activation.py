"""`profile.activation`: every network of a profile (stand-alone, elastic, masked, grouped)
uses the chosen nonlinearity, extraction and the fast scorer stay exact under it, and ReLU,
the default, leaves every result's identity as it was."""
import dataclasses

import numpy as np
import paddle
import pytest

from conftest import train_run as train
from test_models import _perturb_bn
from test_train import tiny
from track1.config import ConfigError, load_config
from track1.data import load_splits
from track1.identity import identity_hash
from track1.models import StandaloneNet, SuperNet
from track1.models.blocks import ACTIVATIONS, ACTIVATION_LAYERS
from track1.profile import Profile
from track1.proxies.base import score as proxy_score
from track1.runtime import checkpoint
from track1.scoring.fast import FastScorer
from track1.scoring.common import score_images
from track1.scoring.reference import ReferenceScorer
from track1.scoring.trained import load_trained


def _profile(fm_profile, name):
    return dataclasses.replace(fm_profile, activation=name)


def _x(n=4):
    return paddle.to_tensor(np.random.default_rng(0).normal(size=(n, 1, 28, 28)).astype("float32"))


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_supernet_equals_extracted_under_every_activation(fm_profile, name):
    prof = _profile(fm_profile, name)
    paddle.seed(0)
    net = SuperNet(prof)
    _perturb_bn(net, 0)
    net.eval()
    x = _x()
    sp = prof.space
    for code in [sp.max_code(), sp.min_code()] + sp.sample_codes(4, seed=5):
        net.set_active_subnet(code)
        sub = net.get_active_subnet(code)
        sub.eval()
        want = sub(x).numpy()
        np.testing.assert_allclose(net(x).numpy(), want, rtol=1e-5, atol=1e-6 * np.abs(want).max())
        kinds = {type(l) for l in sub.sublayers() if isinstance(l, ACTIVATION_LAYERS)}
        assert kinds == {ACTIVATIONS[name][0]}, code


@pytest.mark.parametrize("name", [n for n in sorted(ACTIVATIONS) if n != "relu"])
def test_an_activation_changes_the_outputs_and_nothing_else(fm_profile, name):
    """Same weights (the state dicts have the same keys), other function."""
    paddle.seed(0)
    relu = SuperNet(fm_profile)
    _perturb_bn(relu, 0)
    other = SuperNet(_profile(fm_profile, name))
    assert list(other.state_dict()) == list(relu.state_dict())
    other.set_state_dict(relu.state_dict())
    relu.eval(), other.eval()
    a, b = relu(_x()).numpy(), other(_x()).numpy()
    assert np.isfinite(b).all() and not np.allclose(a, b, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("name", [n for n in sorted(ACTIVATIONS) if n != "relu"])
@pytest.mark.parametrize("bn, group", [("batch", 3), ("recal", 1), ("running", 3)])
def test_fast_scorer_equals_reference_under_an_activation(fm_profile, name, bn, group):
    """The masked (one candidate) and grouped (several side by side) programs zero inactive
    channels before the activation: exact only because every activation maps 0 to 0."""
    cfg = load_config(None, [f"profile.activation={name}", "score.images=24", "score.recal_images=16",
                             f"score.bn={bn}", f"score.group={group}", "score.metric=neg_loss"])
    prof = Profile.from_section(cfg.profile)
    assert prof.activation == name
    st = dict(cfg.score)
    imgs = score_images(load_splits(cfg.data, cfg.profile), st)
    paddle.seed(1)
    net = SuperNet(prof)
    if bn != "running":          # random running statistics blow an untrained 48-layer net up to inf
        _perturb_bn(net, 1)
    arrays = {k: v.numpy() for k, v in net.state_dict().items()}
    codes = prof.space.sample_codes(4, seed=2) + [prof.space.min_code()]
    ref = ReferenceScorer(net, imgs, st).score(codes)
    fast = FastScorer(lambda: SuperNet(prof), arrays, [], imgs, st).score(codes)
    assert np.isfinite(ref).all()
    np.testing.assert_allclose(fast, ref, rtol=1e-4, atol=1e-4)


def test_relu_default_keeps_every_identity_and_other_activations_change_them():
    """The shipped GT, checkpoints, score caches and proxy caches stay valid: at relu the key is
    neutral (test_gt pins the GT protocol hash itself)."""
    base, mish = load_config(None), load_config(None, ["profile.activation=mish"])
    assert base.profile.activation == "relu"
    for result in ("supernet", "standalone", "scores", "proxy"):
        cfg = load_config(None)
        without = {**dict(cfg), "profile": {k: v for k, v in cfg.profile.items() if k != "activation"}}
        assert identity_hash(result, base) == identity_hash(result, without), result
        assert identity_hash(result, mish) != identity_hash(result, base), result


def test_a_profile_saved_before_the_key_existed_is_relu(fm_cfg):
    old = {k: v for k, v in fm_cfg.profile.items() if k != "activation"}
    assert Profile.from_section(old).activation == "relu"


def test_an_unknown_activation_is_one_clear_config_error():
    with pytest.raises(ConfigError, match=r"config key 'profile.activation': 'prelu' is not one of"):
        load_config(None, ["profile.activation=prelu"])


@pytest.mark.parametrize("proxy", ["naswot", "fisher"])
def test_activation_hooking_proxies_see_the_chosen_activation(fm_profile, proxy):
    """NASWOT and Fisher hook the activation layers: under mish they must find them (a ReLU-only
    hook would find none and NASWOT's kernel would be all zeros: -inf)."""
    prof = _profile(fm_profile, "mish")
    code = prof.space.sample_codes(1, seed=3)[0]
    settings = {"batch_size": 8, "image_size": 28}
    a = proxy_score(proxy, prof, code, settings=settings)
    b = proxy_score(proxy, fm_profile, code, settings=settings)
    assert np.isfinite(a) and a != b
    assert sum(isinstance(l, paddle.nn.Mish) for l in StandaloneNet(prof, code).sublayers()) > 0


def test_a_supernet_trained_with_an_activation_is_scored_with_it(tmp_path):
    """The checkpoint's definition carries the profile: scoring rebuilds the mish supernet
    from it, whatever the scoring config says."""
    cfg = load_config(None, tiny(tmp_path, "train.strategy=spos", "train.eval_images=0", "profile.activation=swish"))
    train(cfg, max_steps=2, log=lambda m: None)
    assert checkpoint.load(tmp_path / "supernet")[1]["supernet"]["profile"]["activation"] == "swish"
    trained = load_trained(tmp_path)
    assert trained.profile.activation == "swish"
    assert all(b.act is ACTIVATIONS["swish"][1] for b in trained.network().blocks[1:-1])
