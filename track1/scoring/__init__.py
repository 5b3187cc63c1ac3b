"""Scoring candidates with a trained supernet: reference (dygraph) and fast (static) scorers,
resumable sharded runs, and the submission."""
