"""The library under test as loaded in the zygote (``child``): its entry points and hooks
as cffi function pointers (calls release the GIL), and the statistics it publishes."""
from __future__ import annotations

CDEF = """
    void *dlsym(void *handle, const char *symbol);
"""
SIGNATURES = {
    "malloc": "void *(*)(size_t)",
    "free": "void (*)(void *)",
    "realloc": "void *(*)(void *, size_t)",
    "calloc": "void *(*)(size_t, size_t)",
    "aligned_alloc": "void *(*)(size_t, size_t)",
    "posix_memalign": "int (*)(void **, size_t, size_t)",
    "usable_size": "size_t (*)(void *)",
}
HOOK = "void (*)(void)"


class Library:
    """The entry points of one library as cffi function pointers (calls release the GIL)."""

    def __init__(self, spec: dict):
        import cffi

        from .probe import open_local
        self.ffi = ffi = cffi.FFI()
        ffi.cdef(CDEF)
        libc = ffi.dlopen(None)
        handle = ffi.cast("void *", open_local(spec["lib"]))

        def sym(name, sig):
            p = libc.dlsym(handle, name.encode())
            if p == ffi.NULL:
                raise RuntimeError(f"{spec['lib']}: no symbol {name}")
            return ffi.cast(sig, p)
        self.fn = {role: sym(name, SIGNATURES[role]) for role, name in spec["symbols"].items()}
        self.hooks = {h: sym(spec[h], HOOK) for h in ("init", "thread_init", "thread_fini")
                      if spec.get(h)}
        self.stats_kind = spec.get("stats")
        if self.stats_kind == "jemalloc":
            self._mallctl = sym("mallctl", "int (*)(const char *, void *, size_t *, void *, "
                                           "size_t)")
        elif self.stats_kind == "tcmalloc":
            self._tcprop = sym("MallocExtension_GetNumericProperty",
                               "int (*)(const char *, size_t *)")
        elif self.stats_kind and self.stats_kind.startswith("symbol:"):
            self._statfn = sym(self.stats_kind[7:], "size_t (*)(void)")
        if "init" in self.hooks:
            self.hooks["init"]()

    def classes(self) -> list:
        """The size classes the library publishes (jemalloc: ``arenas.bin.N.size``), or []."""
        if self.stats_kind != "jemalloc":
            return []
        ffi = self.ffi
        n, sz = ffi.new("unsigned *"), ffi.new("size_t *", ffi.sizeof("unsigned"))
        if self._mallctl(b"arenas.nbins", n, sz, ffi.NULL, 0):
            return []
        out = []
        for i in range(int(n[0])):
            v, vsz = ffi.new("size_t *"), ffi.new("size_t *", ffi.sizeof("size_t"))
            if self._mallctl(f"arenas.bin.{i}.size".encode(), v, vsz, ffi.NULL, 0) == 0:
                out.append(int(v[0]))
        return out

    def allocated(self):
        """Bytes the library counts as allocated, or None when it has no such statistic."""
        ffi, kind = self.ffi, self.stats_kind
        if kind == "jemalloc":
            epoch = ffi.new("uint64_t *", 1)
            self._mallctl(b"epoch", ffi.NULL, ffi.NULL, epoch, 8)
            out, n = ffi.new("size_t *"), ffi.new("size_t *", ffi.sizeof("size_t"))
            if self._mallctl(b"stats.allocated", out, n, ffi.NULL, 0):
                return None
            return int(out[0])
        if kind == "tcmalloc":
            out = ffi.new("size_t *")
            if not self._tcprop(b"generic.current_allocated_bytes", out):
                return None
            return int(out[0])
        if kind and kind.startswith("symbol:"):
            return int(self._statfn())
        return None


__all__ = ["CDEF", "HOOK", "SIGNATURES", "Library"]
