"""The library under test, served from a child process: one zygote per library, one fork
per allocator instance, one real thread per virtual tid.

Why a child: the harness's own Python objects must never be served by the allocator
under test, two libraries must never share a heap, and a library that crashes or aborts
must be a finding, not the end of the harness.  The zygote (``python -m
hakmem_verify.models.malloc.child FD SPEC_JSON``) dlopens the library once (RTLD_LOCAL: its symbols
serve no one else in the process) and runs its ``init`` hook; then each instance is a
``fork`` of it, so every instance starts from the same heap, and a failing trace replays
on the same state.  The parent talks to the zygote over a Unix socket and receives each
instance's socket over it (``SCM_RIGHTS``).

An instance runs each virtual tid's calls on a real thread of its own (created on the
tid's first call, ``thread_init`` hook first), so a free by another tid is a real
cross-thread free, and ``exit_thread`` ends that thread (``thread_fini`` hook, then the
OS thread exits and the library's thread-exit destructors run) while the blocks it
allocated stay live for others to free.  Calls are issued one at a time.

Frames are ``marshal``-encoded tuples with a 4-byte length.  A request is
``(tid, op, *args)``; a reply is ``("ok", value)`` or ``("err", text)``.
"""
from __future__ import annotations

import json
import marshal
import os
import socket
import struct
import sys
import threading

from .library import Library

_LEN = struct.Struct("<I")


# ============================================================================
# Framing (both sides)
# ============================================================================


def send(sock, obj) -> None:
    data = marshal.dumps(obj)
    sock.sendall(_LEN.pack(len(data)) + data)


def recv(sock):
    """The next frame, or None at end of file."""
    head = _recv_exact(sock, 4)
    if head is None:
        return None
    body = _recv_exact(sock, _LEN.unpack(head)[0])
    if body is None:
        return None
    return marshal.loads(body)


def _recv_exact(sock, n: int):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


# ============================================================================
# One instance: a forked child serving requests
# ============================================================================


class Instance:
    """Serves requests on ``sock``: allocator calls on each tid's own thread."""

    def __init__(self, lib: Library, sock):
        self.lib, self.sock = lib, sock
        self.ffi = lib.ffi
        self.threads = {}           # tid -> (thread, request queue)
        import queue
        self.results = queue.SimpleQueue()
        self._queue = queue.SimpleQueue

    def serve(self) -> None:
        while True:
            req = recv(self.sock)
            if req is None or req[1] == "bye":
                return
            tid, op = req[0], req[1]
            try:
                if op in THREAD_OPS:
                    value = self._on_thread(tid, req)
                else:
                    value = getattr(self, "op_" + op)(*req[2:])
                send(self.sock, ("ok", value))
            except Exception as e:  # a harness-side error, sent back
                send(self.sock, ("err", f"{type(e).__name__}: {e}"))

    # ---- threads -------------------------------------------------------------------
    def _on_thread(self, tid, req):
        if req[1] == "exit_thread":
            return self._exit_thread(tid)
        entry = self.threads.get(tid)
        if entry is None:
            q = self._queue()
            t = threading.Thread(target=self._thread_main, args=(q,), daemon=True,
                                 name=f"tid-{tid}")
            t.start()
            entry = self.threads[tid] = (t, q)
        entry[1].put(req)
        ok, value = self.results.get()
        if not ok:
            raise value
        return value

    def _thread_main(self, q) -> None:
        hook = self.lib.hooks.get("thread_init")
        if hook is not None:
            hook()
        while True:
            req = q.get()
            if req is None:
                break
            try:
                self.results.put((True, getattr(self, "op_" + req[1])(*req[2:])))
            except Exception as e:
                self.results.put((False, e))
        hook = self.lib.hooks.get("thread_fini")
        if hook is not None:
            hook()

    def _exit_thread(self, tid) -> bool:
        entry = self.threads.pop(tid, None)
        if entry is None:
            return False
        t, q = entry
        native = t.native_id
        q.put(None)
        t.join()
        _wait_os_thread_gone(native)
        return True

    # ---- allocator calls (on the tid's thread) -------------------------------------------
    def op_malloc(self, size):
        return int(self.ffi.cast("uintptr_t", self.lib.fn["malloc"](size)))

    def op_calloc(self, n, size):
        return int(self.ffi.cast("uintptr_t", self.lib.fn["calloc"](n, size)))

    def op_realloc(self, addr, size):
        p = self.lib.fn["realloc"](self.ffi.cast("void *", addr), size)
        return int(self.ffi.cast("uintptr_t", p))

    def op_aligned_alloc(self, align, size):
        if "aligned_alloc" in self.lib.fn:
            return int(self.ffi.cast("uintptr_t", self.lib.fn["aligned_alloc"](align, size)))
        return self.op_posix_memalign(align, size)

    def op_posix_memalign(self, align, size):
        """posix_memalign's block, or 0 when it returns an error (the parent names a NULL)."""
        out = self.ffi.new("void **")
        rc = self.lib.fn["posix_memalign"](out, align, size)
        return int(self.ffi.cast("uintptr_t", out[0])) if rc == 0 else 0

    def op_free(self, addr):
        self.lib.fn["free"](self.ffi.cast("void *", addr))

    def op_alloc_fill(self, kind, args, segs):
        """Allocate (kind: malloc / calloc / aligned_alloc), then, if it succeeded: its
        usable size (-1: no such function), for calloc the offset of its first non-zero
        byte (-1: all zero), and write the fill segments [(offset, bytes)]."""
        addr = getattr(self, "op_" + kind)(*args)
        if not addr:
            return (0, -1, -1)
        usable = self.op_usable(addr)
        nonzero = self.op_nonzero(addr, args[0] * args[1]) if kind == "calloc" else -1
        self._fill(addr, usable, segs)
        return (addr, usable, nonzero)

    def _fill(self, addr, usable, segs):
        """Write the fill segments, never past a usable size the library reports smaller
        than the size asked for (the parent names that MALLOC-03, not a crash it caused)."""
        for off, data in segs:
            if 0 <= usable < off + len(data):
                data = data[:max(0, usable - off)]
            if data:
                self.op_write(addr + off, data)

    def op_alloc_many(self, size, items):
        """malloc(size) once per item [fill segments]: [(addr, usable)], stopping at NULL."""
        out = []
        for segs in items:
            addr = self.op_malloc(size)
            if not addr:
                out.append((0, -1))
                break
            usable = self.op_usable(addr)
            out.append((addr, usable))
            self._fill(addr, usable, segs)
        return out

    def op_free_many(self, blocks):
        """check_free of each (addr, expect) in turn; stops at the first block whose
        contents differ: (index, differing segments), or (len(blocks), [])."""
        for i, (addr, expect) in enumerate(blocks):
            bad = self.op_check_free(addr, expect)
            if bad:
                return (i, bad)
        return (len(blocks), [])

    def op_realloc_fill(self, addr, size, expect, segs):
        """realloc, then (if it succeeded) the segments of ``expect`` that differ at the new
        address [(offset, bytes found)], its usable size, and write the new segments."""
        new = self.op_realloc(addr, size)
        if not new:
            return (0, -1, [])
        usable = self.op_usable(new)
        bad = self.op_differs(new, [(o, d[:max(0, usable - o)] if usable >= 0 else d)
                                    for o, d in expect])
        self._fill(new, usable, segs)
        return (new, usable, bad)

    def op_check_free(self, addr, expect):
        """Free addr if every segment of ``expect`` is intact; else the differing ones
        [(offset, bytes found)] and the block is left alone."""
        bad = self.op_differs(addr, expect)
        if not bad:
            self.op_free(addr)
        return bad

    # ---- memory (any thread) ----------------------------------------------------------
    def op_usable(self, addr):
        fn = self.lib.fn.get("usable_size")
        return -1 if fn is None else int(fn(self.ffi.cast("void *", addr)))

    def op_write(self, addr, data):
        self.ffi.memmove(self.ffi.cast("char *", addr), data, len(data))

    def op_read(self, addr, n):
        return self.ffi.buffer(self.ffi.cast("char *", addr), n)[:]

    def op_nonzero(self, addr, n):
        data = self.op_read(addr, n)
        if data.count(0) == n:
            return -1
        return next(i for i, b in enumerate(data) if b)

    def op_differs(self, addr, expect):
        bad = []
        for off, data in expect:
            got = self.op_read(addr + off, len(data))
            if got != data:
                bad.append((off, got))
        return bad

    def op_differs_many(self, blocks):
        """The first of [(addr, expect)] whose contents differ: (index, segments), or None."""
        for i, (addr, expect) in enumerate(blocks):
            bad = self.op_differs(addr, expect)
            if bad:
                return (i, bad)
        return None

    def op_probe_free(self, addr):
        """free(addr) of an invalid address in a forked copy of this process (the instance
        itself is untouched): how the copy ended, as an exit code (negative: the signal)."""
        pid = os.fork()
        if pid == 0:
            try:
                self.op_free(addr)
            finally:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status)

    def op_stats(self):
        return self.lib.allocated()

    def op_classes(self):
        return self.lib.classes()

    def op_threads(self):
        return sorted(self.threads)


THREAD_OPS = {"malloc", "calloc", "realloc", "aligned_alloc", "posix_memalign", "free",
              "alloc_fill",
              "alloc_many", "free_many",
              "realloc_fill", "check_free", "exit_thread"}


def _wait_os_thread_gone(native_id, bound: float = 2.0) -> None:
    """Until the OS thread has really exited (its TLS destructors ran), at most ``bound`` s:
    Python's join returns when the thread's Python state is gone, a little earlier."""
    import time
    path = f"/proc/self/task/{native_id}"
    deadline = time.monotonic() + bound
    while os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.0002)


# ============================================================================
# The zygote
# ============================================================================


def zygote(fd: int, spec: dict) -> None:
    ctl = socket.socket(fileno=fd)
    try:
        lib = Library(spec)
    except Exception as e:  # told to the parent in one line
        send(ctl, ("err", f"{type(e).__name__}: {e}"))
        return
    send(ctl, ("ok", os.getpid()))
    errdir = spec.get("errdir") or "/tmp"
    while True:
        req = recv(ctl)
        if req is None or req[0] == "bye":
            return
        if req[0] == "fork":
            a, b = socket.socketpair()
            errpath = os.path.join(errdir, f"hakmem-malloc-{os.getpid()}-{req[1]}.err")
            pid = os.fork()
            if pid == 0:                           # the instance
                ctl.close()
                a.close()
                try:
                    efd = os.open(errpath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                    os.dup2(efd, 2)
                    os.close(efd)
                    Instance(lib, b).serve()
                finally:
                    os._exit(0)
            b.close()
            socket.send_fds(ctl, [marshal.dumps(("ok", pid, errpath))], [a.fileno()])
            a.close()
        elif req[0] == "reap":
            pid = req[1]
            try:
                _, status = os.waitpid(pid, 0)
                code = os.waitstatus_to_exitcode(status)
            except ChildProcessError:
                code = None
            send(ctl, ("ok", code))


def main(argv) -> int:
    zygote(int(argv[1]), json.loads(argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
