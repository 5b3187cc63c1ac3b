"""A small decorator registry, one per pluggable family (proxies, samplers, strategies)."""
from __future__ import annotations


class Registry:
    def __init__(self, kind: str):
        self.kind = kind
        self._items, self._meta = {}, {}

    def register(self, name: str | None = None, **meta):
        def deco(obj):
            key = name or obj.__name__
            if key in self._items:
                raise ValueError(f"{self.kind} '{key}' registered twice")
            self._items[key], self._meta[key] = obj, meta
            return obj
        return deco

    def get(self, name: str):
        if name not in self._items:
            raise KeyError(f"unknown {self.kind} '{name}'; known: {', '.join(self.names())}")
        return self._items[name]

    def meta(self, name: str) -> dict:
        self.get(name)
        return self._meta[name]

    def names(self) -> list:
        return sorted(self._items)

    def __contains__(self, name):
        return name in self._items

    def __iter__(self):
        return iter(self.names())
