"""Loss terms shared by both engines (they run on dygraph tensors and static values alike)."""
import numpy as np
import paddle
import paddle.nn.functional as F


def distill(student_logits, teacher_logits, temperature: float = 1.0):
    """Soft cross-entropy to the (stopped) teacher's distribution, scaled by T^2."""
    teacher = F.softmax(teacher_logits / temperature, axis=-1)
    teacher.stop_gradient = True
    # student / T is a fresh tensor, so the in-place op behind cross_entropy (see ce) can
    # only overwrite that copy. (A hand-written log_softmax form trained differently from
    # dygraph under oneDNN after a few steps.)
    return F.cross_entropy(student_logits / temperature, teacher, soft_label=True) * temperature ** 2


def margin_ranking(loss_i, loss_j, scale, offset):
    """The ranking term of one pair: max(0, offset - scale * (L_j - L_i)). With scale = s and
    offset = m (s = +1: the teacher ranks i above j), L_i must undercut L_j by the margin m;
    m = 0 reproduces the competition code. Training feeds per-pair weighted forms of s and m
    (`pair_inputs`). Written with additions of negated terms and kept 1-element: in oneDNN
    static programs (Paddle 3.3.1) the backward of a subtraction between two losses came out
    wrong, and a 0-D product with fed data failed to run (checked against dygraph)."""
    diff = (loss_j + loss_i * -1.0).reshape([1])
    return F.relu(offset + (scale * diff) * -1.0)


def pair_inputs(plan):
    """The fed form of a plan's ranking term: per pair, (w*s/P, w*m*|s|/P) with w the rank
    weight, m the plan's margin and P the number of pairs, so that the sum of
    `margin_ranking(L_i, L_j, a_p, b_p)` equals w * mean_p |s_p| * max(0, m - s_p * (L_j - L_i)):
    ties (s = 0) add nothing."""
    n = max(1, len(plan.pairs))
    a = np.array([plan.rank_weight * s / n for *_, s in plan.pairs], np.float32)
    b = np.array([plan.rank_weight * plan.margin * abs(s) / n for *_, s in plan.pairs], np.float32)
    return a, b


def ce(logits, y, label_smoothing: float = 0.0):
    """Cross-entropy that leaves `logits` intact. In static programs Paddle 3.3.1 lowers
    F.cross_entropy to an in-place op that overwrites its input with the softmax; another
    reader of the same logits (distillation, ranking) would read probabilities. The
    product makes a private copy for it to overwrite (paddle.assign did not: it aliases)."""
    if not paddle.in_dynamic_mode():
        k = logits.shape[-1]
        target = F.one_hot(y, k) * (1.0 - label_smoothing) + label_smoothing / k
        return -(target * F.log_softmax(logits, axis=-1)).sum(axis=-1).mean()
    return F.cross_entropy(logits, y, label_smoothing=label_smoothing)


def nll(logits, y):
    """Plain cross-entropy from log_softmax (no in-place op): for the ranking term, whose
    gradient came out wrong in static programs when it went through F.cross_entropy."""
    return -(F.one_hot(y, logits.shape[-1]) * F.log_softmax(logits, axis=-1)).sum(axis=-1).mean()


def plan_loss(logits, plan_roles, y, pair_a, pair_b, pair_index, label_smoothing, temperature,
              teacher_logits=None):
    """Total loss of a step plan and its parts. `logits[k]` of sub-network k; `pair_a`,
    `pair_b` (tensors, see pair_inputs) weight the ranking term of the pairs `pair_index`;
    the 'distill' roles learn from `teacher_logits` (a frozen teacher's) or else logits[0]."""
    ls = label_smoothing
    parts = {}
    total = 0.0
    teacher = logits[0] if teacher_logits is None else teacher_logits
    for k, (lg, role) in enumerate(zip(logits, plan_roles)):
        if role == "label":
            term = ce(lg, y, label_smoothing=ls)
        else:
            term = distill(lg, teacher, temperature)
        parts[f"{role}{k}"] = term
        total = total + term
    if pair_index:
        # Every pair computes its own cross-entropies: in oneDNN static programs a loss value
        # feeding two consumers failed to run.
        terms = []
        for p, (i, j) in enumerate(pair_index):
            loss_j = nll(logits[j], y)
            terms.append(margin_ranking(nll(logits[i], y), loss_j, pair_a[p:p + 1], pair_b[p:p + 1]))
        rank = paddle.concat(terms).sum()
        parts["rank"] = rank
        total = total + rank
    return total, parts
