"""A child process in a session of its own, tracked while it runs, so that whoever stops
a campaign can stop it and everything it started (``os.killpg`` on its group)."""
from __future__ import annotations

import subprocess


def communicate_in_session(cmd, timeout: float, live: set, stop, **popen_kw):
    """Run ``cmd`` (``subprocess.Popen`` with ``popen_kw``, stdout piped, text) in a new
    session, in the set ``live`` until it ends, and collect its output.

    Returns (process, stdout, stderr); when it runs past ``timeout`` seconds, ``stop`` is
    called with the process and (None, stdout, stderr) is returned, the output being what
    ``stop`` returns."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, start_new_session=True,
                         **popen_kw)
    live.add(p)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        out, err = stop(p)
        return None, out, err
    finally:
        live.discard(p)
    return p, out, err


__all__ = ["communicate_in_session"]
