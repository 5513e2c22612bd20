"""The parent side of ``hakmem_verify.models.malloc.child``: a C library as a factory of instances.

``MallocLib(spec)`` starts the library's zygote on first use; ``lib.instance()`` forks a
fresh :class:`MallocInstance` (one per Hypothesis example, per replay, per test), whose
methods are the library's calls made on the named tid's real thread.  A child that dies
under a call raises :class:`LibraryCrashed` with how it ended (the signal, or the exit
status) and the last lines it wrote on stderr (glibc and mimalloc report heap corruption
there before aborting).
"""
from __future__ import annotations

import atexit
import json
import marshal
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import weakref

from hakmem_verify.contract.api import ImplementationCrashed

from . import child
from .probe import child_env
from .spec import MallocSpec, resolve


class LibraryCrashed(ImplementationCrashed):
    """The instance died during a call: ``kind`` is CRASH (a signal, or it exited) or
    ABORT (SIGABRT); ``detail`` says how, ``stderr`` is the tail of what it wrote."""


class LibraryError(Exception):
    """The library could not be started (its init or dlopen failed in the zygote)."""


class MallocLib:
    """One library's zygote; thread-safe ``instance()``."""

    def __init__(self, spec, include_known: bool = False):
        from .known import known_for
        self.spec: MallocSpec = resolve(spec) if isinstance(spec, str) else spec
        #: known bugs of this release whose ops are not issued (hakmem_verify.models.malloc.known)
        self.known = () if include_known else known_for(self.spec)
        self._lock = threading.Lock()
        self._ctl = None
        self._proc = None
        self._errdir = None
        self._n = 0

    def _start(self) -> None:
        parent, kid = socket.socketpair()
        self._errdir = tempfile.mkdtemp(prefix="hakmem-malloc-")
        d = self.spec.as_dict()
        d["errdir"] = self._errdir
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "hakmem_verify.models.malloc.child", str(kid.fileno()), json.dumps(d)],
            pass_fds=[kid.fileno()], env=child_env(), stdin=subprocess.DEVNULL)
        kid.close()
        self._ctl = parent
        reply = child.recv(parent)
        if reply is None or reply[0] != "ok":
            why = reply[1] if reply else f"the loader exited with {self._proc.wait()}"
            self._ctl = None
            raise LibraryError(f"{self.spec.text}: the library could not be started: {why}")
        _ZYGOTES.add(self)

    def instance(self) -> "MallocInstance":
        with self._lock:
            if self._ctl is None:
                self._start()
            self._n += 1
            child.send(self._ctl, ("fork", self._n))
            msg, fds, _, _ = socket.recv_fds(self._ctl, 4096, 1)
            _, pid, errpath = marshal.loads(msg)
        return MallocInstance(self, socket.socket(fileno=fds[0]), pid, errpath)

    def reap(self, pid: int):
        with self._lock:
            if self._ctl is None:
                return None
            try:
                child.send(self._ctl, ("reap", pid))
                reply = child.recv(self._ctl)
            except OSError:
                return None
            return reply[1] if reply else None

    def close(self) -> None:
        with self._lock:
            if self._ctl is not None:
                try:
                    child.send(self._ctl, ("bye",))
                except OSError:
                    pass
                self._ctl.close()
                self._ctl = None
            if self._proc is not None:
                try:
                    self._proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                self._proc = None
        _ZYGOTES.discard(self)


_ZYGOTES = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for z in list(_ZYGOTES):
        z.close()


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


class MallocInstance:
    """One forked heap.  Every method is one round trip; a dead child raises LibraryCrashed."""

    def __init__(self, lib: MallocLib, sock, pid: int, errpath: str):
        self.lib, self.sock, self.pid, self.errpath = lib, sock, pid, errpath
        self.spec = lib.spec
        self.known = lib.known
        self.closed = False
        self._finalizer = weakref.finalize(self, _kill, pid)

    def call(self, tid: int, op: str, *args):
        if self.closed:
            raise LibraryError(f"{self.spec.text}: call {op} on a closed instance")
        try:
            child.send(self.sock, (tid, op) + args)
            reply = child.recv(self.sock)
        except (BrokenPipeError, ConnectionResetError):
            reply = None
        except BaseException:
            # interrupted mid-call (the per-op watchdog's HANG, Ctrl-C): the library may be
            # stuck inside the call and the socket is mid-frame, so the instance is done
            self.close()
            raise
        if reply is None:
            self._died()
        if reply[0] == "err":
            raise LibraryError(f"{self.spec.text}: the harness's server failed on {op}: "
                               f"{reply[1]}")
        return reply[1]

    def _died(self):
        self.closed = True
        self.sock.close()
        code = self.lib.reap(self.pid)
        tail = ""
        try:
            with open(self.errpath, errors="replace") as f:
                tail = " | ".join(f.read().strip().splitlines()[-4:])[-600:]
            os.unlink(self.errpath)
        except OSError:
            pass
        if code is not None and code < 0:
            sig = -code
            name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else \
                str(sig)
            kind = "ABORT" if sig == signal.SIGABRT else "CRASH"
            raise LibraryCrashed(kind, f"the library's process was killed by {name}", tail)
        raise LibraryCrashed("CRASH", f"the library's process exited (status {code}) during "
                             f"the call", tail)

    # ---- the calls ------------------------------------------------------------------------
    def alloc_fill(self, tid, kind, args, segs):
        return self.call(tid, "alloc_fill", kind, tuple(args), segs)

    def alloc_many(self, tid, size, items):
        return self.call(tid, "alloc_many", size, items)

    def free_many(self, tid, blocks):
        return self.call(tid, "free_many", blocks)

    def realloc_fill(self, tid, addr, size, expect, segs):
        return self.call(tid, "realloc_fill", addr, size, expect, segs)

    def check_free(self, tid, addr, expect):
        return self.call(tid, "check_free", addr, expect)

    def free(self, tid, addr):
        return self.call(tid, "free", addr)

    def differs(self, addr, expect):
        return self.call(0, "differs", addr, expect)

    def probe_free(self, addr):
        return self.call(0, "probe_free", addr)

    def differs_many(self, blocks):
        return self.call(0, "differs_many", blocks)

    def write(self, addr, data):
        return self.call(0, "write", addr, data)

    def read(self, addr, n):
        return self.call(0, "read", addr, n)

    def stats(self):
        return self.call(0, "stats")

    def classes(self):
        """The size classes the library publishes ([] when it publishes none)."""
        return self.call(0, "classes")

    def exit_thread(self, tid):
        return self.call(tid, "exit_thread")

    def threads(self):
        return self.call(0, "threads")

    def close(self) -> None:
        """End the instance (its heap goes with its process)."""
        if self.closed:
            return
        self.closed = True
        self.sock.close()
        _kill(self.pid)          # it may be stuck in a library call; its heap goes with it
        self.lib.reap(self.pid)
        try:
            os.unlink(self.errpath)
        except OSError:
            pass
        self._finalizer.detach()
