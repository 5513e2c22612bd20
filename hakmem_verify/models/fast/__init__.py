"""The seed's tiny pool (hybrid bitmap + mini-magazine) as an executable model."""
from .allocator import PATHS, FastAllocator

__all__ = ["FastAllocator", "PATHS"]
