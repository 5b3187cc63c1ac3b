"""The identity of the stand-alone training protocol (config section `standalone`)."""
from __future__ import annotations

from ..identity import identity_hash


def protocol_hash(cfg) -> str:
    """Identity of everything that decides a stand-alone result, except the code and seed
    (declared in identity.py: a new key at its neutral value leaves it unchanged)."""
    return identity_hash("standalone", cfg)
