import pytest

from track1.config import ConfigError, load_config


def test_default_and_imagenet_load(fm_cfg, in_cfg):
    assert fm_cfg.profile.name == "fashion_mnist" and in_cfg.profile.name == "imagenet"
    assert in_cfg.profile.base_channels == [64, 128, 256, 512] and in_cfg.profile.divisor == 8
    assert in_cfg.profile.stem_kernel == 7 and in_cfg.profile.stem_pool is True
    # `base:` inherits everything not overridden
    assert in_cfg.profile.depth_range == fm_cfg.profile.depth_range


def test_overrides_of_any_key():
    cfg = load_config(None, ["standalone.epochs=3", "profile.base_channels=[16,16,20,20]", "data.root=/x"])
    assert cfg.standalone.epochs == 3.0 and cfg.profile.base_channels == [16, 16, 20, 20]
    assert cfg.data.root == "/x"


@pytest.mark.parametrize("override,msg", [
    ("profile.divisr=8", "config key 'profile.divisr': unknown key"),
    ("nosuch=1", "config key 'nosuch': unknown key"),
    ("profile.divisor=eight", "config key 'profile.divisor': expected int"),
    ("profile.divisor=0", "config key 'profile.divisor': 0 is below the minimum 1"),
    ("profile.stem_pool=3", "config key 'profile.stem_pool': expected bool"),
    ("profile.base_channels=[16,20,24]", "config key 'profile.base_channels': expected 4 items"),
    ("profile.base_channels=16", "config key 'profile.base_channels': expected a list"),
    ("profile.stage_codes=[[1,2],[1],[1],[9]]", "config key 'profile.stage_codes[3][0]': 9 is above the maximum 7"),
    ("standalone.optimizer=adamw", "config key 'standalone.optimizer': 'adamw' is not one of"),
    ("standalone.momentum=1.5", "config key 'standalone.momentum': 1.5 is above the maximum 1.0"),
    ("standalone.warmup_epochs=100", "config key 'standalone.warmup_epochs': 100.0 exceeds epochs"),
    ("profile.depth_range=[[3,2],[2,5],[2,8],[2,5]]", "config key 'profile.depth_range[0]'"),
    ("profile.depth_range=[[2,6],[2,5],[2,8],[2,5]]", "profile 'fashion_mnist': depth_range of stage 1 must lie in 1..5"),
    ("profile.stem_codes=[7]", "profile 'fashion_mnist': no stem width code gives a width"),
    ("profile.strides=[1,2,1,2]", "config key 'profile.strides': stages 2-4 must have stride 2"),
    ("data.root=[1]", "config key 'data.root': expected str"),
    ("profile=3", "config key 'profile': expected a mapping"),
    ("seed", "override 'seed': expected key=value"),
    ("profile.name.x=1", "is not a section"),
    ("rdnas.threshold=6", "config key 'rdnas.threshold': retired, replaced by rdnas.threshold_quantile"),
    ("rdnas.threshold_quantile=1.5", "config key 'rdnas.threshold_quantile': 1.5 is above the maximum"),
])
def test_bad_values_named_in_one_line(override, msg):
    with pytest.raises(ConfigError) as e:
        load_config(None, [override])
    assert msg in str(e.value) and "\n" not in str(e.value)


def test_bad_files(tmp_path):
    (tmp_path / "bad.yaml").write_text("profile: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(str(tmp_path / "bad.yaml"))
    (tmp_path / "missing.yaml").write_text("base: fashion_mnist.yaml\n")
    with pytest.raises(ConfigError, match="no such file"):
        load_config(str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match="no such file"):
        load_config("no_such_profile")
    (tmp_path / "partial.yaml").write_text("seed: 1\n")
    with pytest.raises(ConfigError, match="config key 'profile': missing"):
        load_config(str(tmp_path / "partial.yaml"))


def test_checkpoint_configs_lose_retired_keys():
    import yaml
    from track1.config import DEFAULT_CONFIG, SCHEMA, _validate, drop_retired
    tree = yaml.safe_load(DEFAULT_CONFIG.read_text())
    tree["rdnas"]["threshold"] = 6.0                  # as a supernet trained before the rename stored it
    with pytest.raises(ConfigError, match="retired"):
        _validate(tree, SCHEMA)
    assert "threshold" not in drop_retired(tree)["rdnas"] and tree["rdnas"]["threshold"] == 6.0
    _validate(drop_retired(tree), SCHEMA)


def test_yaml_duplicate_key_and_syntax_error_name_file_line_and_key(tmp_path):
    dup = tmp_path / "dup.yaml"
    dup.write_text("base: fashion_mnist.yaml\nstandalone:\n  lr: 0.1\n  epochs: 1\n  lr: 0.2\n")
    with pytest.raises(ConfigError) as e:
        load_config(str(dup))
    assert str(e.value) == f"config '{dup}': not valid YAML at line 5 column 3 (duplicate key 'lr')"
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: 1\nstandalone:\n  lr: [0.1\n  epochs: 1\n")
    with pytest.raises(ConfigError, match=r"^config '.*bad.yaml': not valid YAML at line 4 column 9 \("):
        load_config(str(bad))
    from track1.config import _load_yaml          # a merge key may repeat keys on purpose
    assert _load_yaml("a: &x {k: 1}\nb:\n  <<: *x\n  k: 2\n", "t") == {"a": {"k": 1}, "b": {"k": 2}}


def test_config_path_that_is_a_directory(tmp_path):
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(str(tmp_path))


@pytest.mark.parametrize("overrides,msg", [
    # the override that made 'profile' a scalar is blamed, not the next one
    (["profile=3", "profile.name=x"], "override 'profile=3': config key 'profile': expected a mapping"),
    (["nosuch.x=1", "seed=2"], "override 'nosuch.x=1': config key 'nosuch': unknown key"),
    (["seed=2", "score.nosuch=1"], "override 'score.nosuch=1': config key 'score.nosuch': unknown key"),
    (["score.jobs.x=1"], "override 'score.jobs.x=1': config key 'score.jobs' is not a section"),
    (["score={a: 1, a: 2}"], "override 'score={a: 1, a: 2}': the value is not valid YAML at line 1 column 8 "
                             "(duplicate key 'a')"),
    (["train.epochs=0"], "config key 'train.epochs': 0.0 must be above 0.0 (nothing to train)"),
    (["standalone.epochs=0"], "config key 'standalone.epochs': 0.0 must be above 0.0 (nothing to train)"),
    (["standalone.lr=.nan"], "config key 'standalone.lr': expected a finite number"),
    (["seed=" + "9" * 5000], "Exceeds the limit"),
])
def test_overrides_blame_the_override_at_fault(overrides, msg):
    with pytest.raises(ConfigError) as e:
        load_config(None, overrides)
    assert msg in str(e.value) and "\n" not in str(e.value) and len(str(e.value)) < 400
