"""Routing: pick a cluster group for each query and say why."""

from .chain import RouterChain

__all__ = ["RouterChain"]
