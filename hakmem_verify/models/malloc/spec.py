"""``--impl malloc:LIB[:PREFIX]``: naming a C allocator library and its entry points.

LIB is ``system`` (glibc's malloc), ``native`` (the C pool behind a malloc front,
``hakmem_verify.models.malloc.native_lib``), a soname (``libmimalloc.so.2``), a path to a shared
library (``./build/libmyalloc.so``), or an adapter file (``.json`` or ``.toml``) for
names that follow no pattern.  PREFIX maps the entry points: ``mi_`` gives
``mi_malloc``, ``mi_free``, ``mi_realloc``, ``mi_calloc``, ``mi_aligned_alloc``,
``mi_posix_memalign`` and the first of ``mi_malloc_usable_size``, ``mi_usable_size``,
``mi_malloc_size``.  ``malloc`` and ``free`` are required; the others are optional and
the ops that need a missing one are not issued.

An adapter file holds the same facts by name::

    {"lib": "./libmy.so", "prefix": "my_",
     "symbols": {"usable_size": "my_block_size"},
     "init": "my_init", "thread_init": "my_thread_init", "thread_fini": "my_thread_done",
     "stats": "my_allocated_bytes",
     "detects_invalid_free": false}

``init``/``thread_init``/``thread_fini`` are ``void f(void)``; ``stats`` is
``size_t f(void)``, the bytes the library counts as allocated.  Relative paths in a
file are relative to the file.

The library is never loaded into the harness's own process: :func:`resolve` asks a
child process (``python -m hakmem_verify.models.malloc.probe``) to dlopen it and look the symbols up,
and checks each symbol is defined by the library itself (``dladdr``), not found in one
of its dependencies (``dlsym`` on a library without its own ``malloc`` returns glibc's).
Every problem raises :class:`MallocSpecError` with one line: no such library, missing
symbols (listed), a prefix that maps to nothing.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

from .probe import child_env

#: role -> candidate names after the prefix, first found wins
ROLES = {
    "malloc": ("malloc",),
    "free": ("free",),
    "realloc": ("realloc",),
    "calloc": ("calloc",),
    "aligned_alloc": ("aligned_alloc",),
    "posix_memalign": ("posix_memalign",),
    "usable_size": ("malloc_usable_size", "usable_size", "malloc_size"),
}
REQUIRED = ("malloc", "free")
HOOKS = ("init", "thread_init", "thread_fini")
SYSTEM_LIB = "libc.so.6"
#: statistics the harness knows how to read, by a symbol the library defines
KNOWN_STATS = (("mallctl", "jemalloc"), ("MallocExtension_GetNumericProperty", "tcmalloc"))
PACKAGES = {"libmimalloc.so.2": "libmimalloc2.0", "libjemalloc.so.2": "libjemalloc2",
            "libtcmalloc_minimal.so.4": "libtcmalloc-minimal4"}


class MallocSpecError(Exception):
    """A ``malloc:`` spec that cannot be used (the message is one line: what and what to do)."""


@dataclass(frozen=True)
class MallocSpec:
    """A resolved C allocator: where it is and which symbol plays each role."""

    text: str                       # the spec as the user gave it (``malloc:...``)
    lib: str                        # path or soname handed to dlopen
    prefix: str = ""
    symbols: dict = field(default_factory=dict)   # role -> symbol name (found ones only)
    init: Optional[str] = None      # void f(void) once after loading
    thread_init: Optional[str] = None   # void f(void) at the start of each thread
    thread_fini: Optional[str] = None   # void f(void) before each thread exits
    stats: Optional[str] = None     # "jemalloc", "tcmalloc", or "symbol:NAME"
    detects_invalid_free: bool = False  # declared: invalid frees abort (checked in a child)
    path: str = ""                  # the file dlopen loaded (dladdr), for messages
    version: Optional[int] = None   # the release, where the library says (mi_version())

    @property
    def name(self) -> str:
        """Short name for tables and banners: ``mimalloc``, ``system``, ``libmy``."""
        if self.lib == SYSTEM_LIB:
            return "system"
        base = os.path.basename(self.path or self.lib)
        for known in ("mimalloc", "jemalloc", "tcmalloc", "hakmem_tiny"):
            if known in base:
                return "native" if known == "hakmem_tiny" else known
        return base.split(".so")[0]

    def has(self, role: str) -> bool:
        return role in self.symbols

    def as_dict(self) -> dict:
        return dict(text=self.text, lib=self.lib, prefix=self.prefix, symbols=dict(self.symbols),
                    init=self.init, thread_init=self.thread_init, thread_fini=self.thread_fini,
                    stats=self.stats, detects_invalid_free=self.detects_invalid_free,
                    path=self.path, version=self.version)

    @classmethod
    def from_dict(cls, d: dict) -> "MallocSpec":
        return cls(**d)


def is_malloc_spec(text: Optional[str]) -> bool:
    return bool(text) and text.strip().startswith("malloc:")


def parse(text: str) -> dict:
    """The facts a spec states, before any lookup: lib, prefix, explicit names, hooks."""
    body = text.strip()[len("malloc:"):]
    if not body:
        raise MallocSpecError(f"--impl {text!r}: expected malloc:LIB[:PREFIX], e.g. "
                              f"malloc:system, malloc:libmimalloc.so.2:mi_, malloc:./libmy.so")
    lib, _, prefix = body.partition(":")
    if lib.endswith((".json", ".toml")):
        return _adapter_file(text, lib, prefix)
    if lib == "system":
        lib = SYSTEM_LIB
    elif lib == "native":
        from .native_lib import build_or_raise
        lib, prefix = str(build_or_raise()), prefix or "hk_"
    elif "/" in lib and not os.path.exists(lib):
        raise MallocSpecError(f"--impl {text!r}: no such library: {lib} (no file there); "
                              f"build it first or correct the path")
    elif "/" in lib:
        lib = str(Path(lib).resolve())
    return dict(text=text.strip(), lib=lib, prefix=prefix, names={}, hooks={}, stats=None,
                detects_invalid_free=False)


def _adapter_file(text: str, path: str, extra: str) -> dict:
    p = Path(path)
    if not p.is_file():
        raise MallocSpecError(f"--impl {text!r}: no such adapter file: {path}")
    try:
        if p.suffix == ".toml":
            import tomllib
            data = tomllib.loads(p.read_text())
        else:
            data = json.loads(p.read_text())
    except Exception as e:  # a broken file, named with the parser's reason
        raise MallocSpecError(f"--impl {text!r}: cannot read adapter file {path}: "
                              f"{type(e).__name__}: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("lib"), str):
        raise MallocSpecError(f"--impl {text!r}: adapter file {path} needs a \"lib\" string "
                              f"(a soname, a path, or \"system\")")
    known = {"lib", "prefix", "symbols", "init", "thread_init", "thread_fini", "stats",
             "detects_invalid_free"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise MallocSpecError(f"--impl {text!r}: adapter file {path} has unknown keys "
                              f"{', '.join(unknown)}; the keys are {', '.join(sorted(known))}")
    lib = data["lib"]
    if lib == "system":
        lib = SYSTEM_LIB
    elif "/" in lib:
        lib = str((p.parent / lib).resolve())
        if not os.path.exists(lib):
            raise MallocSpecError(f"--impl {text!r}: no such library: {lib} (named by "
                                  f"{path}); build it first or correct \"lib\"")
    names = data.get("symbols") or {}
    bad = sorted(set(names) - set(ROLES))
    if bad:
        raise MallocSpecError(f"--impl {text!r}: adapter file {path}: unknown roles "
                              f"{', '.join(bad)} in \"symbols\"; roles are "
                              f"{', '.join(ROLES)}")
    return dict(text=text.strip(), lib=lib, prefix=extra or data.get("prefix", ""),
                names=dict(names), hooks={h: data[h] for h in HOOKS if data.get(h)},
                stats=data.get("stats"),
                detects_invalid_free=bool(data.get("detects_invalid_free", False)))


def wanted(facts: dict) -> dict:
    """role -> candidate symbol names, explicit names first."""
    pre = facts["prefix"]
    out = {}
    for role, tails in ROLES.items():
        cands = [facts["names"][role]] if role in facts["names"] else []
        out[role] = cands + [pre + t for t in tails if pre + t not in cands]
    return out


_CACHE: dict = {}


def resolve(text: str, timeout: float = 30.0) -> MallocSpec:
    """Parse and look up a spec in a child process; MallocSpecError with one line if unusable.
    Cached per process (the library does not change under a run)."""
    text = text.strip()
    if text in _CACHE:
        return _CACHE[text]
    facts = parse(text)
    req = dict(lib=facts["lib"], roles=wanted(facts),
               extra=[facts["hooks"][h] for h in HOOKS if h in facts["hooks"]]
               + ([facts["stats"]] if facts["stats"] else [])
               + [s for s, _ in KNOWN_STATS] + ["mi_version"])
    try:
        r = subprocess.run([sys.executable, "-m", "hakmem_verify.models.malloc.probe", json.dumps(req)],
                           capture_output=True, text=True, timeout=timeout,
                           env=child_env())
    except subprocess.TimeoutExpired:
        raise MallocSpecError(f"--impl {text!r}: loading {facts['lib']} did not finish in "
                              f"{timeout:g} s (its constructor hangs?)") from None
    if r.returncode < 0:
        raise MallocSpecError(f"--impl {text!r}: loading {facts['lib']} killed the loader "
                              f"with signal {-r.returncode} (its constructor crashed)")
    try:
        got = json.loads(r.stdout.strip().splitlines()[-1])
    except Exception:
        raise MallocSpecError(f"--impl {text!r}: the loader failed: "
                              f"{(r.stderr.strip().splitlines() or ['?'])[-1]}") from None
    if got.get("error"):
        msg = got["error"]
        pkg = PACKAGES.get(facts["lib"])
        hint = (f"; install it (apt-get install {pkg})" if pkg else
                "; give a path or a soname the dynamic loader finds (ldconfig -p)")
        raise MallocSpecError(f"--impl {text!r}: no such library: {facts['lib']} ({msg}){hint}")
    found, path = got["found"], got["path"]
    symbols = {}
    for role, cands in req["roles"].items():
        hit = next((c for c in cands if c in found), None)
        if hit:
            symbols[role] = hit
    missing = [r for r in REQUIRED if r not in symbols]
    if missing:
        exported = ", ".join(got.get("alloc_like", [])[:12]) or "none"
        if facts["prefix"] and not any(r in symbols for r in ROLES):
            raise MallocSpecError(f"--impl {text!r}: the prefix {facts['prefix']!r} maps to "
                                  f"nothing in {path}: no {facts['prefix']}malloc or "
                                  f"{facts['prefix']}free; its allocation-like symbols: "
                                  f"{exported}")
        raise MallocSpecError(f"--impl {text!r}: missing symbols in {path}: "
                              f"{', '.join(req['roles'][r][0] for r in missing)} (its "
                              f"allocation-like symbols: {exported}); name them in an "
                              f"adapter file or give the right prefix")
    hooks = {}
    for h, name in facts["hooks"].items():
        if name not in found:
            raise MallocSpecError(f"--impl {text!r}: missing symbols in {path}: {name} "
                                  f"({h} in the adapter file)")
        hooks[h] = name
    stats = None
    if facts["stats"]:
        if facts["stats"] not in found:
            raise MallocSpecError(f"--impl {text!r}: missing symbols in {path}: "
                                  f"{facts['stats']} (stats in the adapter file)")
        stats = "symbol:" + facts["stats"]
    else:
        stats = next((kind for sym, kind in KNOWN_STATS if sym in found), None)
    spec = MallocSpec(text=text, lib=facts["lib"], prefix=facts["prefix"], symbols=symbols,
                      stats=stats, detects_invalid_free=facts["detects_invalid_free"],
                      path=path, version=got.get("version"), **hooks)
    _CACHE[text] = spec
    return spec


def with_lib(spec: MallocSpec, lib: str) -> MallocSpec:
    """The same names in another build of the library (a mutant's .so)."""
    return replace(spec, lib=lib, path=lib)
