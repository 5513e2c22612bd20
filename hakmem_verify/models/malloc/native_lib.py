"""The C pool behind a malloc front: ``--impl malloc:native``.

``csrc/hk_malloc.c`` includes the pool's sources (``hakmem_verify/models/native/csrc``: slab, pool,
free routes) and adds ``hk_malloc``, ``hk_free``, ``hk_realloc``, ``hk_calloc``,
``hk_aligned_alloc``, ``hk_posix_memalign``, ``hk_malloc_usable_size``,
``hk_thread_init`` and ``hk_thread_fini`` (its header comment says what each does with
large sizes and at thread exit).  :func:`build_or_raise` compiles it with the C compiler
into ``libhakmem_tiny.so``, once per hash of the sources, flags and compiler, in
``hakmem_verify.models.native.build.cache_dir()/malloc-<hash>/``; the file appears by an atomic rename,
so parallel builds (pytest-xdist workers) never see half a library.

``python -m hakmem_verify.models.malloc.native_lib`` builds it and prints its path, or the compiler's
whole output when the build fails.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from .spec import MallocSpecError

CSRC = Path(__file__).resolve().parent / "csrc"
FRONT = CSRC / "hk_malloc.c"
#: the pool's files the front includes (hakmem_verify/models/native/csrc)
POOL_SOURCES = ("hk.h", "hk_mutants.h", "hk_slab.c", "hk_pool.c", "hk_free.c")
#: -z nodelete: dlclose never unmaps the library, since a thread still exiting (its key
#: destructor returning its caches) or a block still live would run or point into it
CFLAGS = ["-std=gnu11", "-O2", "-fno-strict-aliasing", "-fPIC", "-shared", "-pthread",
          "-fvisibility=hidden", "-Wl,-z,nodelete"]
LIB_NAME = "libhakmem_tiny.so"

_built: dict = {}


def _pool_csrc() -> Path:
    from hakmem_verify.models.native.build import CSRC as pool_csrc
    return pool_csrc


def key(cc: str) -> str:
    """Hash of the sources, the flags and the compiler's name: one build per change."""
    h = hashlib.sha256()
    h.update(FRONT.read_bytes())
    for name in POOL_SOURCES:
        h.update((_pool_csrc() / name).read_bytes())
    h.update(" ".join([cc] + CFLAGS).encode())
    return h.hexdigest()[:12]


def command(cc: str, out: str) -> list:
    """The compiler command that builds the library into ``out``."""
    return [cc, *CFLAGS, f"-I{_pool_csrc()}", str(FRONT), "-o", out]


def build_or_raise() -> Path:
    """The path of ``libhakmem_tiny.so``, built if not cached; MallocSpecError (one line:
    no compiler, or the compiler's last line) if it cannot be built.  Cost: a hash of
    six files when cached, about a second of compiling otherwise."""
    from hakmem_verify.models.native.build import cache_dir, compiler
    cc = compiler()
    if not cc:
        raise MallocSpecError("malloc:native: no C compiler found (cc, gcc or $CC) to build "
                              f"{LIB_NAME}; install gcc")
    k = key(cc)
    if k in _built:
        return _built[k]
    final = cache_dir() / f"malloc-{k}" / LIB_NAME
    if not final.exists():
        _compile(cc, final)
    _built[k] = final
    return final


def _compile(cc: str, final: Path) -> None:
    """Slow path: compile into a temporary file next to ``final``, then rename it."""
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".build-", suffix=".so", dir=final.parent)
        os.close(fd)
    except OSError as e:
        raise MallocSpecError(f"malloc:native: cannot write the build of {LIB_NAME} to "
                              f"{final.parent}: {e.strerror}; set HAKMEM_NATIVE_CACHE to a "
                              f"writable directory") from None
    try:
        r = subprocess.run(command(cc, tmp), capture_output=True, text=True)
        if r.returncode:
            last = (r.stderr.strip().splitlines() or [f"exit status {r.returncode}"])[-1]
            raise MallocSpecError(f"malloc:native: building {LIB_NAME} failed: {last}; run "
                                  f"python -m hakmem_verify.models.malloc.native_lib for the compiler's "
                                  f"output")
        os.replace(tmp, final)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def main() -> int:
    from hakmem_verify.models.native.build import compiler
    try:
        print(build_or_raise())
        return 0
    except MallocSpecError as e:
        cc = compiler()
        if cc:
            with tempfile.TemporaryDirectory() as d:
                r = subprocess.run(command(cc, os.path.join(d, LIB_NAME)), capture_output=True,
                                   text=True)
                sys.stderr.write(r.stderr)
        print(e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
