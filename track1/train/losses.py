"""Loss terms shared by both engines (they run on dygraph tensors and static values alike)."""
import paddle
import paddle.nn.functional as F


def distill(student_logits, teacher_logits, temperature: float = 1.0):
    """Soft cross-entropy to the (detached) teacher's distribution, scaled by T^2."""
    # The fused soft-label cross-entropy: oneDNN's log_softmax backward fails in static
    # programs of Paddle 3.3.1 (std::exception), this op runs everywhere.
    t = F.softmax(teacher_logits.detach() / temperature, axis=-1)
    return F.cross_entropy(student_logits / temperature, t, soft_label=True) * temperature ** 2


def margin_ranking(loss_i, loss_j, sign, margin: float):
    """max(0, m - s * (L_j - L_i)): with s = +1 (teacher ranks i above j), L_i must undercut
    L_j by the margin m; m = 0 reproduces the competition code."""
    return F.relu(margin - sign * (loss_j - loss_i))


def plan_loss(logits, plan_roles, y, pairs_sign, pair_index, rank_weight, cfg_train, temperature, margin):
    """Total loss of a step plan and its parts. `logits[k]` of sub-network k.

    `pairs_sign` is a tensor of the pair signs (0 = pair unused), `pair_index` the static
    list of (i, j) it refers to; `rank_weight` a float or tensor."""
    ls = cfg_train["label_smoothing"]
    parts = {}
    total = 0.0
    teacher = logits[0]
    label_losses = []
    for k, (lg, role) in enumerate(zip(logits, plan_roles)):
        if role == "label":
            term = F.cross_entropy(lg, y, label_smoothing=ls)
        else:
            term = distill(lg, teacher, temperature)
        parts[f"{role}{k}"] = term
        total = total + term
        label_losses.append(F.cross_entropy(lg, y))
    if pair_index:
        # |s| drops ties (s = 0): a tie carries no order to learn.
        terms = [margin_ranking(label_losses[i], label_losses[j], pairs_sign[p], margin) * paddle.abs(pairs_sign[p])
                 for p, (i, j) in enumerate(pair_index)]
        rank = paddle.add_n(terms) / len(terms)
        parts["rank"] = rank
        total = total + rank_weight * rank
    return total, parts
