"""Reference tiny pool: simple, obviously correct, exact counters (see allocator.py)."""
from .allocator import RefAllocator

__all__ = ["RefAllocator"]
