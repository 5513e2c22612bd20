"""The contract's errors: what an allocator raises for a bad call (``AllocatorError``
and its kinds), for an impossible ``Config``, when its process died, or when it found one
of its own structures corrupted; and the harness's ``InvariantViolation``."""
from __future__ import annotations

# ============================================================================
# Errors
# ============================================================================


class AllocatorError(Exception):
    """Base of every error an allocator raises for bad client input."""


class SizeError(AllocatorError, ValueError):
    """alloc() got a size that is not an int in 0..max class size."""


class InvalidAddress(AllocatorError):
    """An address that is not the start of a live block of this pool."""


class InvalidFree(InvalidAddress):
    """free() got an address that is not the start of a block of this pool."""


class DoubleFree(InvalidFree):
    """free() got the start of a block that is not live (already free)."""


class OutOfBounds(AllocatorError):
    """read()/write() outside a live block's usable size, or of a free block."""


class BadArgument(AllocatorError, TypeError):
    """A tid that is not an int >= 0, data that is not bytes, a count that is not an int."""


class ConfigError(ValueError):
    """An impossible Config (e.g. slab size not a multiple of a class size)."""


class ImplementationCrashed(Exception):
    """The implementation's process died under a call (a C library run in a child).

    ``kind`` is ``CRASH`` (killed by a signal, or exited) or ``ABORT`` (SIGABRT: the
    library's own check fired); ``detail`` says how; ``stderr`` is the tail of what it
    wrote (glibc and mimalloc name the corruption there before aborting).
    """

    def __init__(self, kind: str, detail: str, stderr: str = ""):
        self.kind, self.detail, self.stderr = kind, detail, stderr
        super().__init__(detail + (f"; its stderr ends: {stderr}" if stderr else ""))


class StructureCorrupted(AssertionError):
    """An implementation found one of its own structures corrupted, and stopped before
    changing anything (mimalloc's "corrupted thread-free list").

    ``structure`` names it with the design's word (``remote_head``: a slab's remote-free
    stack); ``detail`` says where and how.  Implementations raise this, not a catalogue
    ID: the harness maps the structure to the check that covers it
    (``hakmem_verify.check.violation_of``).
    """

    def __init__(self, structure: str, detail: str):
        self.structure, self.detail = structure, detail
        super().__init__(f"{structure}: {detail}")


class InvariantViolation(AssertionError):
    """An invariant of the catalogue does not hold.

    ``inv_id`` is the catalogue ID (``SLAB-03``); the message starts with
    ``[ID]`` and names the offending block, slab, class and thread.
    """

    def __init__(self, inv_id: str, message: str, dump: str = ""):
        self.inv_id = inv_id
        self.detail = message
        self.dump = dump
        text = f"[{inv_id}] {message}"
        if dump:
            text += "\n" + dump
        super().__init__(text)
