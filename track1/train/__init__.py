"""Supernet training: samplers, strategies (what to train each step), engines (how), loop."""
