"""The Track 1 search space: architecture codes, their validation and their channels.

A code (official 52-char form) reads

    char 0        image-size code ('1' = the profile's resolution)
    chars 1-4     blocks per stage (depth), 2-5 / 2-5 / 2-8 / 2-5
    char 5        stem width code
    chars 6-51    two digits per block slot (conv1 width code, conv2 width code),
                  5 / 5 / 8 / 5 slots per stage, absent blocks padded with "00"

The 51-char form of the competition rules drops char 0. Width code k (1..7) means
ratio RATIOS[k-1] of the stage's base width, rounded by `make_divisible`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .errors import UserError, quote

RATIOS = (1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7)
MAX_DEPTHS = (5, 5, 8, 5)          # fixed by the code format: 10/10/16/10 chars
NUM_STAGES = 4
OFFICIAL_LEN = 52                  # with the image-size char
RULES_LEN = 51                     # without it
_HEAD = 5                          # depth chars + stem char, after the image char


class CodeError(UserError, ValueError):
    """A malformed architecture code; the message is one line and names the code (with
    repr() when it holds a stray newline, CR or other non-printable character)."""


def make_divisible(v: float, divisor: int, min_val: int | None = None) -> int:
    """Round a channel count the way the official stand-alone model does."""
    if min_val is None:
        min_val = divisor
    new_v = max(min_val, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:  # never round down by more than 10%
        new_v += divisor
    return new_v


@dataclass(frozen=True)
class Arch:
    """A parsed code. `blocks[s]` holds (conv1 code, conv2 code) of each active block of stage s."""
    image: int
    depths: tuple
    stem: int
    blocks: tuple

    @property
    def stage_out(self) -> tuple:
        """The conv2 (block output) width code of each stage."""
        return tuple(stage[0][1] for stage in self.blocks)


@dataclass(frozen=True)
class BlockSpec:
    stage: int
    index: int          # position inside the stage
    cin: int
    mid: int
    cout: int
    stride: int

    @property
    def proj(self) -> bool:
        """A 1x1 conv + BN shortcut, exactly where the official model puts one."""
        return self.stride != 1 or self.cin != self.cout


@dataclass(frozen=True)
class NetSpec:
    """Channels of a concrete network: what the stand-alone model and the cost model build."""
    stem: int
    blocks: tuple

    @property
    def out_channels(self) -> int:
        return self.blocks[-1].cout if self.blocks else self.stem


class SearchSpace:
    """Codes of one profile: parse, validate, encode, sample and map to channels.

    `stem_codes` and `stage_codes` are the width codes the profile allows (the official
    candidate set uses 1-3 for the stem and stages 1-2, 1-5 for stage 3, 1-7 for stage 4).
    """

    def __init__(self, base_channels: Sequence[int], divisor: int = 8,
                 depth_range: Sequence[Sequence[int]] = ((2, 5), (2, 5), (2, 8), (2, 5)),
                 stem_codes: Sequence[int] = (1, 2, 3),
                 stage_codes: Sequence[Sequence[int]] = ((1, 2, 3), (1, 2, 3), (1, 2, 3, 4, 5),
                                                         (1, 2, 3, 4, 5, 6, 7)),
                 strides: Sequence[int] = (1, 2, 2, 2), image_codes: Sequence[int] = (1,)):
        self.base = tuple(int(c) for c in base_channels)
        self.divisor = int(divisor)
        self.depth_range = tuple((int(a), int(b)) for a, b in depth_range)
        self.stem_codes = tuple(sorted(int(c) for c in stem_codes))
        self.stage_codes = tuple(tuple(sorted(int(c) for c in s)) for s in stage_codes)
        self.strides = tuple(int(s) for s in strides)
        self.image_codes = tuple(int(c) for c in image_codes)
        for s, (lo, hi) in enumerate(self.depth_range):
            if not 1 <= lo <= hi <= MAX_DEPTHS[s]:
                raise ValueError(f"depth_range of stage {s + 1} must lie in 1..{MAX_DEPTHS[s]}, got {lo}..{hi}")
        for codes in (self.stem_codes,) + self.stage_codes:
            if not codes or not set(codes) <= set(range(1, 8)):
                raise ValueError(f"width codes must be a non-empty subset of 1..7, got {list(codes)}")
        self._width = [[0] + [make_divisible(b * r, self.divisor) for r in RATIOS] for b in self.base]
        self._parsed = {}       # code -> Arch: 45,000 candidates are parsed many times
        # The stem feeds stage 1 without a projection, so the two must be able to agree.
        if not {self.width(0, c) for c in self.stem_codes} & {self.width(0, c) for c in self.stage_codes[0]}:
            raise ValueError("no stem width code gives a width that stage 1 can output")

    # ----------------------------------------------------------------- channels
    def width(self, stage: int, code: int) -> int:
        """Channels of width code `code` in stage `stage` (the stem uses stage 0's base)."""
        return self._width[stage][code]

    def max_widths(self) -> tuple:
        """Per stage, the widest channel count any allowed code gives (supernet sizes)."""
        return tuple(max(self.width(s, c) for c in self.stage_codes[s]) for s in range(NUM_STAGES))

    def max_stem(self) -> int:
        return max(self.width(0, c) for c in self.stem_codes)

    def net_spec(self, arch: Arch) -> NetSpec:
        stem = self.width(0, arch.stem)
        blocks, cin = [], stem
        for s, stage in enumerate(arch.blocks):
            for i, (c1, c2) in enumerate(stage):
                mid, cout = self.width(s, c1), self.width(s, c2)
                blocks.append(BlockSpec(s, i, cin, mid, cout, self.strides[s] if i == 0 else 1))
                cin = cout
        return NetSpec(stem, tuple(blocks))

    # ----------------------------------------------------------------- parsing
    def parse(self, code) -> Arch:
        """Parse and validate a 52- or 51-char code; raise CodeError naming position and rule."""
        arch = self._parsed.get(code) if isinstance(code, str) else None
        if arch is None:
            arch = self._parse(code)
            if len(self._parsed) < 500_000:
                self._parsed[code] = arch
        return arch

    def _parse(self, code) -> Arch:
        if not isinstance(code, str):
            raise CodeError(f"arch code {code!r}: expected a string of digits, got {type(code).__name__}")
        if len(code) not in (OFFICIAL_LEN, RULES_LEN):
            raise CodeError(f"arch code {quote(code)}: length {len(code)}, expected {OFFICIAL_LEN} "
                            f"(official form) or {RULES_LEN} (rules form)")
        for p, ch in enumerate(code):
            if ch not in "0123456789":
                raise CodeError(f"arch code {quote(code)}: position {p}: {ch!r} is not a digit")

        def fail(pos: int, rule: str):
            raise CodeError(f"arch code {quote(code)}: position {pos}: {rule}")

        off = len(code) - RULES_LEN        # 1 for the official form, 0 for the rules form
        image = int(code[0]) if off else self.image_codes[0]
        if off and image not in self.image_codes:
            fail(0, f"image-size code {image} not in allowed {list(self.image_codes)}")
        depths = []
        for s in range(NUM_STAGES):
            d = int(code[off + s])
            lo, hi = self.depth_range[s]
            if not lo <= d <= hi:
                fail(off + s, f"depth {d} of stage {s + 1} out of range {lo}-{hi}")
            depths.append(d)
        stem_pos = off + 4
        stem = int(code[stem_pos])
        self._check_width(fail, stem_pos, stem, self.stem_codes, "stem")

        blocks, pos = [], off + _HEAD
        for s in range(NUM_STAGES):
            stage = []
            for slot in range(MAX_DEPTHS[s]):
                c1, c2 = int(code[pos]), int(code[pos + 1])
                if slot < depths[s]:
                    where = f"stage {s + 1} block {slot + 1}"
                    self._check_width(fail, pos, c1, self.stage_codes[s], f"{where} conv1")
                    self._check_width(fail, pos + 1, c2, self.stage_codes[s], f"{where} conv2")
                    stage.append((c1, c2))
                elif c1 or c2:
                    fail(pos if c1 else pos + 1,
                         f"stage {s + 1} has depth {depths[s]} but slot {slot + 1} is "
                         f"'{code[pos:pos + 2]}', expected padding '00'")
                pos += 2
            blocks.append(tuple(stage))

        # Residual adds inside a stage need one output width per stage.
        pos = off + _HEAD
        for s in range(NUM_STAGES):
            w0 = self.width(s, blocks[s][0][1])
            for i, (_, c2) in enumerate(blocks[s][1:], start=1):
                if self.width(s, c2) != w0:
                    fail(pos + 2 * i + 1, f"stage {s + 1} block {i + 1} output width {self.width(s, c2)} "
                                          f"(code {c2}) differs from block 1's {w0} (code {blocks[s][0][1]})")
            pos += 2 * MAX_DEPTHS[s]
        if self.width(0, blocks[0][0][1]) != self.width(0, stem):
            fail(off + _HEAD + 1, f"stage 1 output width {self.width(0, blocks[0][0][1])} "
                                  f"(code {blocks[0][0][1]}) differs from stem width {self.width(0, stem)} "
                                  f"(code {stem})")
        return Arch(image, tuple(depths), stem, tuple(blocks))

    @staticmethod
    def _check_width(fail, pos, code, allowed, where):
        if code == 0:
            fail(pos, f"{where} width code is 0 in an active block")
        if not 1 <= code <= 7:
            fail(pos, f"{where} width code {code} outside 1..7")
        if code not in allowed:
            fail(pos, f"{where} width code {code} not in the profile's allowed set {list(allowed)}")

    @staticmethod
    def encode(arch: Arch, form: int = OFFICIAL_LEN) -> str:
        """The code string of `arch`: 52 chars (official) or 51 (rules form)."""
        parts = [str(arch.image)] if form == OFFICIAL_LEN else []
        if form not in (OFFICIAL_LEN, RULES_LEN):
            raise ValueError(f"form must be {OFFICIAL_LEN} or {RULES_LEN}, got {form}")
        parts += [str(d) for d in arch.depths] + [str(arch.stem)]
        for s, stage in enumerate(arch.blocks):
            parts += [f"{a}{b}" for a, b in stage] + ["00"] * (MAX_DEPTHS[s] - len(stage))
        return "".join(parts)

    def canonical(self, code: str) -> str:
        """The validated 52-char form of either form."""
        return self.encode(self.parse(code))

    def is_valid(self, code) -> bool:
        try:
            self.parse(code)
            return True
        except CodeError:
            return False

    # ----------------------------------------------------------------- sampling
    def sample(self, rng: np.random.Generator, depths: Sequence[int] | None = None) -> Arch:
        """A uniform draw from the sub-space: each choice independently uniform.

        The stem code and each stage's output code are single choices (the validity rules
        tie all block outputs of a stage together); conv1 codes are free per block.
        """
        if depths is None:
            depths = [int(rng.integers(lo, hi + 1)) for lo, hi in self.depth_range]
        stem = int(rng.choice(self._stem_choices()))
        blocks = []
        for s in range(NUM_STAGES):
            allowed = self.stage_codes[s]
            if s == 0:
                out = self._stage1_out(stem)
            else:
                out = int(rng.choice(allowed))
            blocks.append(tuple((int(rng.choice(allowed)), out) for _ in range(depths[s])))
        return Arch(self.image_codes[0], tuple(int(d) for d in depths), stem, tuple(blocks))

    def _stem_choices(self) -> list:
        stage1 = {self.width(0, c) for c in self.stage_codes[0]}
        return [c for c in self.stem_codes if self.width(0, c) in stage1]

    def _stage1_out(self, stem: int) -> int:
        """The stage-1 output code that reproduces the stem width (the same code if allowed)."""
        if stem in self.stage_codes[0]:
            return stem
        return next(c for c in self.stage_codes[0] if self.width(0, c) == self.width(0, stem))

    def sample_codes(self, n: int, seed: int, unique: bool = True) -> list:
        rng = np.random.default_rng(seed)
        out, seen, misses = [], set(), 0
        while len(out) < n:
            code = self.encode(self.sample(rng))
            if unique and code in seen:
                misses += 1
                if misses > 100 * n + 1000:     # a narrowed space may hold fewer codes than asked
                    raise ValueError(f"asked for {n} distinct codes; the space gave only {len(out)} "
                                     f"in {len(out) + misses} draws")
                continue
            seen.add(code)
            out.append(code)
        return out

    def extreme(self, largest: bool) -> Arch:
        """The max (deepest, widest) or min (shallowest, narrowest) arch of the sub-space."""
        sign = -1 if largest else 1
        depths = [hi if largest else lo for lo, hi in self.depth_range]
        stem = min(self._stem_choices(), key=lambda c: (sign * self.width(0, c), c))
        blocks = []
        for s in range(NUM_STAGES):
            code = min(self.stage_codes[s], key=lambda c: (sign * self.width(s, c), c))
            out = self._stage1_out(stem) if s == 0 else code
            blocks.append(tuple((code, out) for _ in range(depths[s])))
        return Arch(self.image_codes[0], tuple(depths), stem, tuple(blocks))

    def max_code(self) -> str:
        return self.encode(self.extreme(True))

    def min_code(self) -> str:
        return self.encode(self.extreme(False))


# ---------------------------------------------------------------- code positions
# Nothing outside this module indexes into a code: callers use these.
DEPTH_CHARS = range(0, NUM_STAGES)          # positions in the 51-char body: the four depths,
WIDTH_CHARS = range(NUM_STAGES, RULES_LEN)  # then the stem width and two width digits per block slot


def body(code: str) -> str:
    """The 51-char rules form without validation: it identifies a code in either form."""
    return code[-RULES_LEN:]


def digits(code: str) -> np.ndarray:
    """The 51 digits of a code's body, as uint8."""
    return np.frombuffer(body(code).encode(), np.uint8) - 48


def hamming(a: str, b: str) -> int:
    """Positions at which the bodies of two codes (either form) differ."""
    return int((digits(a) != digits(b)).sum())


def prefix_key(code: str) -> str:
    """What decides the stem and stage 1 of a code's network: stage-1 depth, stem width and
    the stage-1 block widths. Codes sharing it share their stem + stage-1 computation."""
    c = body(code)
    return c[DEPTH_CHARS[0]] + c[WIDTH_CHARS[0]:WIDTH_CHARS[0] + 1 + 2 * MAX_DEPTHS[0]]
