"""Compiling the example allocator ``exalloc.c``: the correct build and one per planted bug.

Each planted bug is a ``#ifdef EX_BUG_<NAME>`` in ``exalloc.c``; :data:`BUGS` names them
(kebab-case name -> macro) and README.md says what each does and which check finds it.
:func:`build` compiles one variant with the system compiler (``$CC``, else ``gcc``, else
``cc``) into ``build/`` beside this file (git-ignored), as ``libexalloc-<variant>-<hash>.so``
keyed by a hash of the sources, the flags and the compiler, so an edit rebuilds and an
unchanged source never does.  A finished file appears atomically (a hard link from a
temporary name; the first build to finish wins), so parallel pytest-xdist workers may
build the same variant at once.  Each build also points a stable name at itself:
``build/libexalloc.so`` (the correct build, which ``exalloc.json`` names) and
``build/libexalloc-<bug>.so``::

    python examples/c/build.py                     # prints .../build/libexalloc-ok-<hash>.so
    python examples/c/build.py collect-loses-tail  # one planted bug
    python examples/c/build.py all                 # every variant, one path a line
    hakmem-fuzz ... --impl malloc:examples/c/exalloc.json
"""
from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
SOURCES = ("exalloc.c", "exalloc.h")
CFLAGS = ("-O1", "-g", "-shared", "-fPIC", "-pthread", "-std=gnu11", "-Wall", "-Wextra")

#: planted bug name -> the macro that compiles it in (README.md has the table)
BUGS = {
    "double-alloc-after-overflow": "EX_BUG_DOUBLE_ALLOC_AFTER_OVERFLOW",
    "collect-loses-tail": "EX_BUG_COLLECT_LOSES_TAIL",
    "realloc-shrink-copies-old-size": "EX_BUG_REALLOC_SHRINK_COPIES_OLD_SIZE",
    "calloc-reused-not-zeroed": "EX_BUG_CALLOC_REUSED_NOT_ZEROED",
    "aligned-alloc-class-too-small": "EX_BUG_ALIGNED_ALLOC_CLASS_TOO_SMALL",
    "exit-leaves-remote-list": "EX_BUG_EXIT_LEAVES_REMOTE_LIST",
    "realloc-not-counted": "EX_BUG_REALLOC_NOT_COUNTED",
    "class-boundary-off-by-one": "EX_BUG_CLASS_BOUNDARY_OFF_BY_ONE",
}

#: the adapter file for the correct build (its "lib" is build/libexalloc.so)
ADAPTER = HERE / "exalloc.json"
STABLE = "libexalloc.so"


class BuildError(RuntimeError):
    """exalloc cannot be built here; the message says why and what to do, in one line."""


def compiler() -> list:
    """The compiler command ($CC split into words, else gcc, else cc), or [] if none."""
    cc = shlex.split(os.environ.get("CC", ""))
    if cc and shutil.which(cc[0]):
        return cc
    for name in ("gcc", "cc"):
        if shutil.which(name):
            return [name]
    return []


def flags(bug: Optional[str] = None) -> list:
    """The compiler flags of one variant (the correct build when bug is None)."""
    if bug is not None and bug not in BUGS:
        raise BuildError(f"no planted bug named {bug!r} in exalloc.c; the bugs are: "
                         f"{', '.join(BUGS)}")
    return list(CFLAGS) + ([f"-D{BUGS[bug]}"] if bug else [])


def variant_key(bug: Optional[str] = None, cc: Optional[list] = None) -> str:
    h = hashlib.sha256()
    for name in SOURCES:
        h.update((HERE / name).read_bytes())
    h.update(" ".join((cc or compiler()) + flags(bug)).encode())
    return h.hexdigest()[:12]


def build(bug: Optional[str] = None, out_dir=None) -> Path:
    """The compiled library of one variant (compiled now unless an identical one exists).

    Raises :class:`BuildError` for an unknown bug name, no compiler, or a compile error.
    """
    cc = compiler()
    if not cc:
        raise BuildError("cannot build examples/c/exalloc.c: no C compiler (set CC, or "
                         "install gcc: apt-get install gcc)")
    out = Path(out_dir) if out_dir is not None else HERE / "build"
    out.mkdir(parents=True, exist_ok=True)
    final = out / f"libexalloc-{bug or 'ok'}-{variant_key(bug, cc)}.so"
    if not final.exists():
        tmp = out / f".{final.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
        cmd = cc + flags(bug) + ["-o", str(tmp), str(HERE / "exalloc.c")]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True)
        except OSError as e:
            raise BuildError(f"cannot build examples/c/exalloc.c: running {cc[0]} failed: "
                             f"{e}") from None
        if r.returncode != 0:
            tmp.unlink(missing_ok=True)
            errors = [ln for ln in r.stderr.splitlines() if "error" in ln] or \
                r.stderr.strip().splitlines() or ["?"]
            raise BuildError(f"cannot build examples/c/exalloc.c ({bug or 'correct build'}): "
                             f"{errors[0]}; run {shlex.join(cmd)} to see all")
        _publish(tmp, final)
    _point(out / (f"libexalloc-{bug}.so" if bug else STABLE), final)
    return final


def _publish(tmp: Path, final: Path) -> None:
    """tmp becomes final unless another build got there first (then final stays as it is)."""
    try:
        os.link(tmp, final)             # atomic, and fails if final exists
    except FileExistsError:
        pass
    except OSError:                     # a file system without hard links
        os.replace(tmp, final)
    tmp.unlink(missing_ok=True)


def _point(link: Path, target: Path) -> None:
    """Make link a symlink to target (same directory), atomically."""
    try:
        if os.readlink(link) == target.name:
            return
    except OSError:
        pass
    tmp = link.with_name(f".{link.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    os.symlink(target.name, tmp)
    os.replace(tmp, link)


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and args[0] in ("-h", "--help")):
        print(f"usage: python examples/c/build.py [BUG | all]\n  bugs: {', '.join(BUGS)}",
              file=sys.stderr)
        return 2
    variants = [None, *BUGS] if args == ["all"] else [args[0] if args else None]
    try:
        for bug in variants:
            print(build(bug))
    except BuildError as e:
        print(e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
