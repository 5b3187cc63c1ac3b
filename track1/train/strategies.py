"""Training strategies: what one step trains. Each returns a `StepPlan`; engines run it.

Each strategy declares in the registry what it needs: `sections` (the config sections it
reads besides seed/profile/data/train: they define its training run's identity), `teacher`
(a zero-cost proxy that orders pairs) and `branches` (weight branches in the supernet).

spos        one uniformly sampled sub-network, label loss (Guo et al. 2020)
sandwich    largest (label loss) + smallest + n random, distilled in place from the largest
            (Yu et al. 2020 BigNAS / AutoSlim), gradients summed, one optimizer step
progressive phases from YAML: the space opens depth-first then width (Yang et al. 2021), with
            narrow weight branches added per phase (candidate enhancement, see branches.py)
rdnas       sandwich + ranking distillation: a zero-cost teacher orders pairs of sampled
            sub-networks and a margin ranking loss pushes their losses into that order
            (Dong et al. 2023)
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..registry import Registry
from .samplers import PAIR_SAMPLERS, ArchSampler, distance_quantile, sample_distant
from .teacher import Teacher

STRATEGIES = Registry("strategy")


@dataclass
class StepPlan:
    codes: list                       # sub-networks of this step; codes[0] teaches 'distill' roles
    roles: list                       # 'label' | 'distill' per code
    pairs: list = field(default_factory=list)   # (i, j, s): s = +1 if the teacher ranks i above j
    rank_weight: float = 0.0
    margin: float = 0.0               # of the ranking term (RD-NAS)
    temperature: float = 1.0          # of in-place distillation

    def signature(self):
        """What fixes a static program: the roles, which (i, j) pairs are ranked, the temperature."""
        return tuple(self.roles), tuple((i, j) for i, j, _ in self.pairs), self.temperature


class Strategy:
    """Base: the config sections it declared (`sections`), a sampler, the teacher if it
    declared one, the run's seed; `plan(epoch, rng)` per step."""

    def __init__(self, sections: dict, sampler: ArchSampler, teacher=None, seed: int = 0):
        self.cfg, self.sampler, self.teacher, self.seed = sections, sampler, teacher, seed

    def plan(self, epoch: float, rng) -> StepPlan:
        raise NotImplementedError

    def phase(self, epoch: float) -> dict:
        """Progressive training's phase (others have one implicit phase)."""
        return {}


@STRATEGIES.register("spos", sections=(), teacher=False, branches=False)
class SPOS(Strategy):
    def plan(self, epoch, rng):
        return StepPlan([self.sampler.sample(rng)], ["label"])


def sandwich_codes(sampler, n_random, rng, distance=None, threshold=0.0):
    big, small = sampler.largest(), sampler.smallest()
    rand = sample_distant(sampler, rng, n_random, distance, threshold, fixed=()) if n_random else []
    return [big, small] + rand


def distilled(codes, sandwich) -> StepPlan:
    return StepPlan(codes, ["label"] + ["distill"] * (len(codes) - 1), temperature=sandwich["temperature"])


@STRATEGIES.register("sandwich", sections=("sandwich",), teacher=False, branches=False)
class Sandwich(Strategy):
    def plan(self, epoch, rng):
        return distilled(sandwich_codes(self.sampler, self.cfg["sandwich"]["n_random"], rng), self.cfg["sandwich"])


@STRATEGIES.register("progressive", sections=("sandwich", "progressive"), teacher=False, branches=True)
class Progressive(Strategy):
    """Phases (YAML `progressive.phases`), each with `epochs`, `depth` / `width` elastic or
    fixed, `branches` (stages with narrow weight branches) and `base` (spos | sandwich)."""

    def __init__(self, sections, sampler, teacher=None, seed=0):
        super().__init__(sections, sampler, teacher, seed)
        self.phases = sections["progressive"]["phases"]

    def phase(self, epoch):
        end = 0.0
        for p in self.phases:
            end += p["epochs"]
            if epoch < end:
                return p
        return self.phases[-1]

    def plan(self, epoch, rng):
        p = self.phase(epoch)
        sampler = self.sampler.restricted(fix_depth=not p["depth"], fix_width=not p["width"])
        if p["base"] == "spos":
            return StepPlan([sampler.sample(rng)], ["label"])
        return distilled(sandwich_codes(sampler, self.cfg["sandwich"]["n_random"], rng), self.cfg["sandwich"])


def rank_weight(epoch: float, r: dict) -> float:
    """lambda(epoch) = min(max, epoch / ramp) (the competition: min(2, epoch / 10))."""
    if r["ramp_epochs"] <= 0:
        return r["lambda_max"]
    return min(r["lambda_max"], epoch / r["ramp_epochs"])


@STRATEGIES.register("rdnas", sections=("sandwich", "rdnas", "proxies"), teacher=True, branches=False)
class RDNAS(Strategy):
    def __init__(self, sections, sampler, teacher=None, seed=0):
        super().__init__(sections, sampler, teacher, seed)
        if teacher is None:
            raise ValueError("rdnas needs a teacher (rdnas.teacher)")
        if not isinstance(teacher, Teacher):
            raise TypeError(f"rdnas's teacher must be a track1.train.teacher.Teacher (wrap a scoring function "
                            f"in Teacher(fn)), got {type(teacher).__name__}")
        r = sections["rdnas"]
        self.distance = PAIR_SAMPLERS.get(r["sampler"])(r)
        q = r["threshold_quantile"]
        self.threshold = (distance_quantile(sampler, self.distance, q, seed)
                          if self.distance is not None and q > 0 else 0.0)

    def plan(self, epoch, rng):
        r = self.cfg["rdnas"]
        codes = sandwich_codes(self.sampler, self.cfg["sandwich"]["n_random"], rng, self.distance,
                               self.threshold)
        ranked = [(i, j) for i in range(len(codes)) for j in range(i + 1, len(codes))
                  if r["pairs"] == "all" or (i >= 2 and j >= 2)]    # 'random': among the random nets only
        needed = sorted({i for p in ranked for i in p})
        self.teacher.prefetch([codes[i] for i in needed])   # a network proxy scores them side by side; others do nothing
        scores = {i: self.teacher(codes[i]) for i in needed}
        pairs = [(i, j, 1.0 if scores[i] > scores[j] else (-1.0 if scores[i] < scores[j] else 0.0))
                 for i, j in ranked]
        plan = distilled(codes, self.cfg["sandwich"])
        plan.pairs, plan.rank_weight, plan.margin = pairs, rank_weight(epoch, r), r["margin"]
        return plan


def make_strategy(cfg, sampler: ArchSampler, teacher=None) -> Strategy:
    """The configured strategy, handed only the sections it declared."""
    name = cfg["train"]["strategy"]
    sections = {k: cfg[k] for k in STRATEGIES.meta(name)["sections"]}
    return STRATEGIES.get(name)(sections, sampler, teacher, seed=cfg["seed"])


def run_sections(name: str) -> tuple:
    """The config sections that define a training run of strategy `name`."""
    return ("seed", "profile", "data", "train") + tuple(STRATEGIES.meta(name)["sections"])
