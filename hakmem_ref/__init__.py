"""Reference tiny pool: simple, obviously correct, exact counters (see allocator.py)."""
from hakmem_ref.allocator import RefAllocator

__all__ = ["RefAllocator"]
