"""The NAR network: a transformer encoder over the tokens, tier embeddings kept as running
means of the encoder's pooled output per quality tier, a matching module (attention from
the tier embeddings to the tokens) that classifies the tier, and a scoring head."""
from __future__ import annotations

import math

import numpy as np
import paddle
import paddle.nn as nn

from .encoding import encode


class NAR(nn.Layer):
    def __init__(self, n_tokens: int, n_features: int, d_model: int = 64, heads: int = 4,
                 layers: int = 2, tiers: int = 5, dropout: float = 0.1, tier_momentum: float = 0.9):
        super().__init__()
        self.tiers, self.d, self.momentum = tiers, d_model, tier_momentum
        self.embed = nn.Linear(n_features, d_model)
        self.pos = self.create_parameter([1, n_tokens, d_model],
                                         default_initializer=nn.initializer.Normal(std=0.02))
        layer = nn.TransformerEncoderLayer(d_model, heads, 2 * d_model, dropout)
        self.encoder = nn.TransformerEncoder(layer, layers)
        self.match = nn.MultiHeadAttention(d_model, heads, dropout=dropout)
        self.match_out = nn.Linear(d_model, d_model)
        self.score_head = nn.Sequential(nn.Linear(d_model, d_model), nn.ReLU(), nn.Linear(d_model, 1))
        # Not learned: each tier's embedding is the running mean of its members' features.
        self.register_buffer("tier_emb", paddle.zeros([tiers, d_model]))
        self.register_buffer("tier_seen", paddle.zeros([tiers]))

    def features(self, tokens):
        h = self.encoder(self.embed(tokens) + self.pos)
        return h, h.mean(axis=1)

    def forward(self, tokens):
        """(score [B], tier logits [B, tiers], pooled features [B, d])."""
        h, pooled = self.features(tokens)
        score = self.score_head(pooled).squeeze(-1)
        q = self.tier_emb.detach().unsqueeze(0).expand([tokens.shape[0], self.tiers, self.d])
        m = self.match(q, h, h)                       # each tier's view of the architecture
        logits = (self.match_out(m) * q).sum(-1) / math.sqrt(self.d)
        return score, logits, pooled

    @paddle.no_grad()
    def update_tiers(self, pooled, tiers):
        """Running means of the pooled features per tier (first batch of a tier: its mean)."""
        emb, seen = self.tier_emb.numpy(), self.tier_seen.numpy()
        feats, tiers = pooled.numpy(), tiers.numpy()
        for t in range(self.tiers):
            sel = tiers == t
            if not sel.any():
                continue
            mean = feats[sel].mean(0)
            emb[t] = mean if seen[t] == 0 else self.momentum * emb[t] + (1 - self.momentum) * mean
            seen[t] = 1
        self.tier_emb.set_value(emb)
        self.tier_seen.set_value(seen)


@paddle.no_grad()
def predict(model, profile, codes, batch: int = 1024) -> np.ndarray:
    """NAR scores (bigger = better) of codes."""
    model.eval()
    out = []
    for a in range(0, len(codes), batch):
        x = paddle.to_tensor(encode(profile, codes[a:a + batch]))
        out.append(model(x)[0].numpy().astype(np.float64))
    return np.concatenate(out) if out else np.zeros(0)
