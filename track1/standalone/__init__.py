"""Stand-alone training of one code under the ground-truth protocol: the protocol and its
identity, the trainer (the supernet training engines running a one-code plan) and the
per-image outputs of a run."""
