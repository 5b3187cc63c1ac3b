"""A profile: the search space plus the geometry (input, stem, classes) its networks run at.

Also the analytic cost model: multiply-accumulates of convs and the FC, and trainable
parameters, counted exactly as the stand-alone model builds them (paddle.flops is broken
under numpy 2 in Paddle 3.3.1, and analytic counts are much faster anyway).
"""
from __future__ import annotations

from dataclasses import dataclass

from .space import NetSpec, SearchSpace


def conv_out(size: int, kernel: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - kernel) // stride + 1


@dataclass(frozen=True)
class Profile:
    name: str
    space: SearchSpace
    image_size: int
    in_channels: int
    num_classes: int
    stem_kernel: int
    stem_stride: int
    stem_pool: bool
    activation: str = "relu"

    def __post_init__(self):
        object.__setattr__(self, "_costs", {})     # code -> cost; a frozen dataclass holds it

    @classmethod
    def from_section(cls, p) -> "Profile":
        """The profile of a config's `profile` section (ValueError if its space is invalid)."""
        space = SearchSpace(p["base_channels"], p["divisor"], p["depth_range"], p["stem_codes"],
                            p["stage_codes"], p["strides"])
        return cls(p["name"], space, p["image_size"], p["in_channels"], p["num_classes"],
                   p["stem_kernel"], p["stem_stride"], p["stem_pool"],
                   # supernets saved before the key existed are ReLU networks
                   p.get("activation", "relu"))

    # ------------------------------------------------------------- geometry
    @property
    def stem_pad(self) -> int:
        return self.stem_kernel // 2

    def stem_size(self) -> int:
        """Spatial size after the stem (and its max-pool)."""
        s = conv_out(self.image_size, self.stem_kernel, self.stem_stride, self.stem_pad)
        return conv_out(s, 3, 2, 1) if self.stem_pool else s

    def stage_sizes(self) -> tuple:
        sizes, s = [], self.stem_size()
        for stride in self.space.strides:
            s = conv_out(s, 3, stride, 1)
            sizes.append(s)
        return tuple(sizes)

    def input_shape(self, batch: int = 1) -> list:
        return [batch, self.in_channels, self.image_size, self.image_size]

    # ------------------------------------------------------------- codes
    def spec(self, arch_or_code) -> NetSpec:
        arch = self.space.parse(arch_or_code) if isinstance(arch_or_code, str) else arch_or_code
        return self.space.net_spec(arch)

    # ------------------------------------------------------------- cost
    def cost(self, arch_or_code) -> dict:
        """{'macs', 'params'} of a code: convs + FC MACs, trainable params (conv, BN affine, FC)."""
        if isinstance(arch_or_code, str):
            hit = self._costs.get(arch_or_code)
            if hit is None:
                hit = self._costs[arch_or_code] = self._cost(arch_or_code)
            return dict(hit)
        return self._cost(arch_or_code)

    def _cost(self, arch_or_code) -> dict:
        spec = self.spec(arch_or_code)
        s0 = conv_out(self.image_size, self.stem_kernel, self.stem_stride, self.stem_pad)
        k = self.stem_kernel
        macs = k * k * self.in_channels * spec.stem * s0 * s0
        params = k * k * self.in_channels * spec.stem + 2 * spec.stem
        for b in spec.blocks:
            m, p = self.block_cost(b)
            macs, params = macs + m, params + p
        c = spec.out_channels
        macs += c * self.num_classes
        params += c * self.num_classes + self.num_classes
        return {"macs": int(macs), "params": int(params)}

    def block_cost(self, b) -> tuple:
        """(MACs, params) of one BasicBlock, its projection shortcut included."""
        hw = self.stage_sizes()[b.stage] ** 2
        macs = 9 * b.cin * b.mid * hw + 9 * b.mid * b.cout * hw
        params = 9 * b.cin * b.mid + 9 * b.mid * b.cout + 2 * (b.mid + b.cout)
        if b.proj:
            macs += b.cin * b.cout * hw
            params += b.cin * b.cout + 2 * b.cout
        return macs, params

    def macs(self, arch_or_code) -> int:
        return self.cost(arch_or_code)["macs"]

    def params(self, arch_or_code) -> int:
        return self.cost(arch_or_code)["params"]

    def describe(self, arch_or_code) -> dict:
        """The parsed structure, for tools/arch.py: depths, per-conv channels, projections."""
        arch = self.space.parse(arch_or_code) if isinstance(arch_or_code, str) else arch_or_code
        spec = self.space.net_spec(arch)
        stages = []
        for s in range(4):
            stages.append([{"cin": b.cin, "mid": b.mid, "cout": b.cout, "stride": b.stride, "proj": b.proj}
                           for b in spec.blocks if b.stage == s])
        return {"arch": self.space.encode(arch), "depths": list(arch.depths), "stem": spec.stem,
                "stages": stages, **self.cost(arch)}
