"""Child process of ``hakmem_verify.models.malloc.spec.resolve``: dlopen one library, look symbols up.

Reads one JSON request from argv (``lib``, ``roles``: role -> candidate names,
``extra``: more names), prints one JSON line: ``found`` (the names the library itself
defines: ``dladdr`` names the library's own file), ``path`` (that file), and
``alloc_like`` (a few of its symbols that look like allocation functions, for error
messages); or ``error`` when dlopen fails.  Runs in its own process so the harness
never maps the library under test.
"""
from __future__ import annotations

import json
import os
import sys


def main(argv) -> int:
    req = json.loads(argv[1])
    import cffi
    ffi = cffi.FFI()
    ffi.cdef("""
        typedef struct { const char *dli_fname; void *dli_fbase;
                         const char *dli_sname; void *dli_saddr; } Dl_info;
        int dladdr(const void *addr, Dl_info *info);
        void *dlsym(void *handle, const char *symbol);
        void *dlopen(const char *filename, int flags);
        char *dlerror(void);
    """)
    libc = ffi.dlopen(None)
    try:
        handle = ffi.cast("void *", open_local(req["lib"]))
    except OSError as e:
        print(json.dumps({"error": str(e)}))
        return 0
    info = ffi.new("Dl_info *")
    names = {n for cands in req["roles"].values() for n in cands} | set(req["extra"])
    found, path = [], ""
    own_base = None
    anchor = None
    for n in sorted(names):
        p = libc.dlsym(handle, n.encode())
        if p == ffi.NULL or not libc.dladdr(p, info):
            continue
        fname = ffi.string(info.dli_fname).decode()
        if own_base is None and _is_lib(fname, req["lib"]):
            own_base, path = info.dli_fbase, fname
        if _is_lib(fname, req["lib"]) or (own_base is not None and info.dli_fbase == own_base):
            found.append(n)
            anchor = anchor or fname
    if not path:
        path = _which(req["lib"])
    version = None
    if "mi_version" in found:                      # mimalloc says which release it is
        version = int(ffi.cast("int (*)(void)", libc.dlsym(handle, b"mi_version"))())
    print(json.dumps({"found": found, "path": path or req["lib"], "version": version,
                      "alloc_like": _alloc_like(path)}))
    return 0


#: glibc's static TLS surplus for libraries dlopened late: jemalloc's initial-exec TLS
#: needs more than the default 512 bytes ("cannot allocate memory in static TLS block")
TLS_TUNABLE = "glibc.rtld.optional_static_tls=65536"


def child_env() -> dict:
    """The environment of a child that dlopens a library under test."""
    env = dict(os.environ)
    tun = env.get("GLIBC_TUNABLES", "")
    if "optional_static_tls" not in tun:
        env["GLIBC_TUNABLES"] = f"{tun}:{TLS_TUNABLE}" if tun else TLS_TUNABLE
    return env


def open_local(lib: str) -> int:
    """dlopen(lib, RTLD_NOW | RTLD_LOCAL): its symbols never serve anyone else; the handle."""
    import ctypes
    return ctypes.CDLL(lib, mode=os.RTLD_NOW | os.RTLD_LOCAL)._handle


def _is_lib(fname: str, lib: str) -> bool:
    """Is the file dladdr named the library we asked for (by path or by soname)?"""
    if "/" in lib:
        return os.path.realpath(fname) == os.path.realpath(lib)
    return os.path.basename(fname) == lib or os.path.basename(os.path.realpath(fname)) == \
        os.path.basename(os.path.realpath(_which(lib) or lib))


def _which(lib: str) -> str:
    """The file a soname resolves to, from /proc/self/maps (it is mapped now)."""
    if "/" in lib:
        return lib
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                p = line.split()[-1]
                if os.path.basename(p) == lib or os.path.basename(p).startswith(lib + "."):
                    return p
    except OSError:
        pass
    return ""


def _alloc_like(path: str) -> list:
    """A few exported names with alloc/free in them (for a missing-symbol message)."""
    if not path or not os.path.exists(path):
        return []
    try:
        import subprocess
        out = subprocess.run(["nm", "-D", "--defined-only", path], capture_output=True,
                             text=True, timeout=10).stdout
    except Exception:  # nm missing: the message just lists none
        return []
    names = [ln.split()[-1] for ln in out.splitlines() if ln.strip()]
    return sorted(n for n in names if ("alloc" in n or "free" in n) and not n.startswith("_"))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
