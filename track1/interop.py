"""State dicts in and out of the key layouts of the Track 1 code bases.

Layouts (the names `to_track1` and `from_track1` take):

`track1`: track1's own names, which are the official stand-alone model's:
  `blocks.0.{conv,bn}` stem, `blocks.i.{conv1,bn1,conv2,bn2,downsample.0,downsample.1}`
  BasicBlocks, `blocks.<last>.fc` head; BN tensors `weight/bias/_mean/_variance`.
  These are the names of the official model classes: `hnas/models/resnet.py` (`ResNet`,
  `StemBlock`, `HeadBlock`; `resnet48()` loads the official pretrained `resnet48.pdparams`
  into it by these names, 252 tensors) and the per-code stand-alone `model.py`
  (`Model(arch)`), both read in pprp/CVPR2022-NAS-competition-Track1-3th-solution. A sub-network exported with
  `export_subnet` carries the keys `Model(arch)` builds for the same code. track1's
  progressive weight branches (`*.branch_weights.N`) exist only here.

`ofa`: a supernet checkpoint of the official demo: the resnet48 converted by PaddleSlim's
  `Convert(supernet(expand_ratio=[1.0]))`, wrapped in `ResOFA` with a distillation teacher,
  saved by hapi as `ResOFA.state_dict()`. Convert wraps every conv and linear in a `Block`,
  whose layer sits at `.fn`; BNs are replaced by `SuperBatchNorm2D` unwrapped. So:
  `model.blocks.1.conv1.fn.weight`, `model.blocks.1.bn1._mean`, `model.blocks.24.fc.fn.bias`,
  plus the teacher, a plain resnet48, under `ofa_teacher_model.model.` (track1 names).
  Read in: train_supernet.py, hnas/models/resnet.py, hnas/utils/hapi_wrapper.py
  (`Trainer.save`), paddleslim/nas/ofa/{convert_super,layers_base,ofa}.py of
  pprp/CVPR2022-NAS-competition-Track1-3th-solution (the RD-NAS code, built on the official
  baseline), whose utils/convert_model.py quotes the key names
  `model.blocks.0.conv.fn.weight`, `model._layers.blocks.13.bn2.weight` and
  `ofa_teacher_model.model.blocks.23.bn2._variance`; the same construction is in
  train_supernet.py and paddleslim/nas/ofa/resofa.py of PengLiao12/CVPR2022-NAS-Track1-7th.

`ofa_dp`: the same, saved from multi-GPU training, where hapi wraps the student in
  `paddle.DataParallel`: the student's prefix is `model._layers.` (the teacher is not wrapped).

Not verified, so not supported: a `.fn` level on BN keys (Convert does not wrap BNs);
the official baseline's own repository (on AI Studio, not in the stored public code: what
is above is its copy inside the two competition repositories); RD-NAS's PReLU variant
(`hnas/models/resnet_prelu.py`) has `blocks.i.relu2.weight`, which track1 cannot hold and
is refused. Its Mish/Swish variants map; they compute as trained under
`profile.activation=mish` / `swish` (ReLU otherwise).
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import numpy as np

from .errors import UserError

LAYOUTS = ("track1", "ofa", "ofa_dp")
NAME_TABLE = "StructuredToParameterName@@"     # paddle.save's bookkeeping, not a tensor
TEACHER = "ofa_teacher_model.model."
_PREFIX = {"track1": "", "ofa": "model.", "ofa_dp": "model._layers."}

_CONVS = ("conv", "conv1", "conv2", "downsample.0")
_BNS = ("bn", "bn1", "bn2", "downsample.1")
_ATTRS = {**{c: r"weight" for c in _CONVS}, **{b: r"weight|bias|_mean|_variance" for b in _BNS},
          "fc": r"weight|bias"}
_LAYER = "|".join(re.escape(k) for k in _ATTRS)
_TRACK1 = re.compile(rf"blocks\.(\d+)\.({_LAYER})\.(\w+(?:\.\d+)?)$")
_OFA = re.compile(rf"blocks\.(\d+)\.({_LAYER})(\.fn)?\.(\w+)$")
_BRANCH = re.compile(r"branch_weights\.\d+$")


class LayoutError(UserError, ValueError):
    """A key that no supported layout maps (one line, naming the key)."""


def _plain_ok(key: str, branches: bool) -> bool:
    m = _TRACK1.match(key)
    if not m:
        return False
    layer, attr = m.group(2), m.group(3)
    return bool(re.fullmatch(_ATTRS[layer], attr)) or (branches and layer in _CONVS and bool(_BRANCH.fullmatch(attr)))


def _tensor_keys(state):
    return [k for k in state if k != NAME_TABLE]


def detect_layout(keys) -> str:
    """The layout of a state dict's keys, from its first tensor key."""
    keys = [k for k in keys if k != NAME_TABLE]
    if not keys:
        raise LayoutError("empty state dict: no layout to detect")
    student = [k for k in keys if not k.startswith(TEACHER)]
    first = student[0] if student else keys[0]
    if first.startswith(_PREFIX["ofa_dp"]):
        return "ofa_dp"
    if first.startswith(_PREFIX["ofa"]) or first.startswith(TEACHER):
        return "ofa"
    if first.startswith("blocks."):
        return "track1"
    raise LayoutError(f"key '{first}' matches no supported layout ({', '.join(LAYOUTS)})")


def _from_ofa(key: str, prefix: str):
    """The track1 name of an OFA student key, or None."""
    if not key.startswith(prefix):
        return None
    m = _OFA.match(key[len(prefix):])
    if not m:
        return None
    idx, layer, fn, attr = m.groups()
    # Convert puts exactly the convs and the linear inside a Block (`.fn`).
    if bool(fn) != (layer in _CONVS or layer == "fc") or not re.fullmatch(_ATTRS[layer], attr):
        return None
    return f"blocks.{idx}.{layer}.{attr}"


def to_track1(state: dict, layout: str = "auto", part: str = "student") -> dict:
    """`state` renamed to track1 keys (values untouched). `part='teacher'` returns an OFA
    checkpoint's distillation teacher instead of the supernet; the other part is dropped."""
    if layout == "auto":
        layout = detect_layout(state)
    if layout not in LAYOUTS:
        raise LayoutError(f"unknown layout '{layout}' (supported: {', '.join(LAYOUTS)})")
    if part not in ("student", "teacher"):
        raise LayoutError(f"part must be 'student' or 'teacher', got '{part}'")
    out = {}
    for key in _tensor_keys(state):
        is_teacher = key.startswith(TEACHER)
        if layout == "track1":
            name = key if _plain_ok(key, branches=True) else None
        elif is_teacher:
            if part == "student":
                continue
            name = key[len(TEACHER):] if _plain_ok(key[len(TEACHER):], branches=False) else None
        else:
            if part == "teacher":
                continue
            name = _from_ofa(key, _PREFIX[layout])
        if name is None:
            raise LayoutError(f"key '{key}' has no track1 counterpart in layout '{layout}'")
        out[name] = state[key]
    if not out:
        raise LayoutError(f"no {part} tensors in this '{layout}' state dict")
    return out


def _to_ofa_key(name: str, prefix: str) -> str:
    idx, layer, attr = _TRACK1.match(name).groups()
    fn = ".fn" if layer in _CONVS or layer == "fc" else ""
    return f"{prefix}blocks.{idx}.{layer}{fn}.{attr}"


def from_track1(state: dict, layout: str = "track1", teacher: dict | None = None) -> dict:
    """A track1 state dict in `layout`. For the OFA layouts, `teacher` (track1 names) is
    written under `ofa_teacher_model.model.`: hapi's `Model.load`, which the official
    evaluation uses, refuses a checkpoint that lacks the teacher's keys."""
    if layout not in LAYOUTS:
        raise LayoutError(f"unknown layout '{layout}' (supported: {', '.join(LAYOUTS)})")
    if teacher is not None and layout == "track1":
        raise LayoutError("a teacher has a place only in the 'ofa' and 'ofa_dp' layouts")
    for key in _tensor_keys(state):
        if _BRANCH.search(key):
            raise LayoutError(f"key '{key}': weight branches have no counterpart in the official "
                              f"layouts (export sub-networks instead)")
        if not _plain_ok(key, branches=False):
            raise LayoutError(f"key '{key}' is not a track1 key")
    if layout == "track1":
        return {k: state[k] for k in _tensor_keys(state)}
    out = {_to_ofa_key(k, _PREFIX[layout]): state[k] for k in _tensor_keys(state)}
    for k in _tensor_keys(teacher or {}):
        if not _plain_ok(k, branches=False):
            raise LayoutError(f"teacher key '{k}' is not a plain track1 key")
        out[TEACHER + k] = teacher[k]
    return out


# ----------------------------------------------------------------------------- files
def _numpy(state: dict) -> dict:
    return {k: np.asarray(v.numpy() if hasattr(v, "numpy") else v) for k, v in state.items()}


def save_pdparams(state: dict, path) -> Path:
    """Write `state` (tensors or arrays) with paddle.save, atomically; numpy values, so any
    Paddle version's paddle.load (and plain pickle) reads it."""
    import paddle
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".pdparams")
    os.close(fd)
    try:
        paddle.save(_numpy(state), tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_pdparams(path) -> dict:
    """A `.pdparams` file as {key: numpy array}, paddle.save's name table dropped."""
    import paddle
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file '{path}' does not exist")
    raw = paddle.load(str(path), return_numpy=True)
    if not isinstance(raw, dict):
        raise LayoutError(f"'{path}' holds a {type(raw).__name__}, not a state dict")
    return {k: np.asarray(v) for k, v in raw.items() if k != NAME_TABLE}


def export_supernet(net, path, layout: str = "track1", teacher: dict | None = None) -> Path:
    """The supernet's weights as `.pdparams` in `layout`."""
    return save_pdparams(from_track1(_numpy(net.state_dict()), layout, teacher), path)


def export_subnet(net, code: str, path) -> Path:
    """Sub-network `code` as the official stand-alone model's `.pdparams`; the supernet's
    active code is left as it was."""
    was = net.active_code
    try:
        state = _numpy(net.get_active_subnet(code).state_dict())
    finally:
        net.set_active_subnet(was)
    return save_pdparams(state, path)


def load_into(net, state: dict, layout: str = "auto", part: str = "student") -> str:
    """Map `state` to track1 names and load it into `net`, every tensor present with its
    shape; returns the layout used."""
    used = detect_layout(state) if layout == "auto" else layout
    mapped = to_track1(state, used, part)
    own = net.state_dict()
    for k, t in own.items():
        if k not in mapped:
            raise LayoutError(f"the '{used}' state dict lacks '{k}'")
        if tuple(np.shape(mapped[k])) != tuple(t.shape):
            raise LayoutError(f"'{k}' has shape {tuple(np.shape(mapped[k]))}, the network {tuple(t.shape)}")
    extra = next((k for k in mapped if k not in own), None)
    if extra is not None:
        raise LayoutError(f"'{extra}' (layout '{used}') has no place in this network")
    net.set_state_dict({k: np.asarray(mapped[k]) for k in own})
    return used
