"""The example databases of a ``hakmem-fuzz run``: opened, checked, and never silently lost.

A run may name three databases:

* ``--db PATH_OR_URL``: where failures are saved and replayed from.  A directory
  (Hypothesis's ``DirectoryBasedExampleDatabase``) or ``redis://HOST:PORT/N``
  (Hypothesis's ``RedisExampleDatabase``; ``pip install -e '.[redis]'``), which
  a team's machines share.
* ``--db-local PATH``: with a Redis ``--db``, a directory that receives every
  save Redis refuses (Redis went away mid-run), so no failure is lost.
* ``--db-shared PATH_OR_URL``: read only, replayed after ``--db`` (Hypothesis's
  ``ReadOnlyDatabase`` inside a multiplexed view): CI replays what the nightly
  found without writing to it.

``check`` runs before any worker starts: it proves ``--db`` and ``--db-local``
writable (and ``--db-shared`` readable) by writing and deleting a probe, and
counts the entries that do not decode as Hypothesis examples (named in the
report; Hypothesis drops them when it next reads their key).  Any problem is a
``DatabaseError``: the CLI exits 2 before fuzzing.  In the workers,
``WorkerDatabase`` counts every save, confirms it landed, falls back to the
local directory when the primary refuses, and reports what could not be saved.
"""
from __future__ import annotations

import os
import uuid
from itertools import islice

PROBE_KEY = b"hakmem-fuzz/probe"
#: Entries of a ``.pareto`` key read per fetch: the kept examples are never deleted
#: (``WorkerDatabase.delete``), so reading them all before every chunk would grow with
#: every night; Hypothesis replays at most a few of them per chunk anyway.
PARETO_FETCH = 20
REDIS_PREFIX = b"hakmem-fuzz-example:"


class DatabaseError(Exception):
    """A database the run cannot use; the message says which and what to do."""


def is_url(spec) -> bool:
    return isinstance(spec, str) and spec.startswith(("redis://", "rediss://", "unix://"))


def open_database(spec):
    """The Hypothesis database behind a path or a Redis URL (None for '' or None)."""
    if not spec:
        return None
    if is_url(spec):
        try:
            import redis
            from hypothesis.extra.redis import RedisExampleDatabase
        except ImportError as exc:
            raise DatabaseError(f"--db {spec}: the 'redis' package is not installed ({exc}); "
                                "install the extra: .venv/bin/pip install -e '.[redis]'") \
                from None
        import datetime
        client = redis.Redis.from_url(spec, socket_timeout=5, socket_connect_timeout=5)
        return RedisExampleDatabase(client, expire_after=datetime.timedelta(days=90),
                                    key_prefix=REDIS_PREFIX)
    from hypothesis.database import DirectoryBasedExampleDatabase
    return DirectoryBasedExampleDatabase(spec)


# ============================================================================
# Before the run
# ============================================================================


def check_writable_dir(path: str, flag: str) -> None:
    """Create ``path`` and write, read and delete a probe file in it, or DatabaseError."""
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, f".hakmem-fuzz-probe-{uuid.uuid4().hex}")
        with open(probe, "w") as f:
            f.write("probe")
        os.remove(probe)
    except OSError as exc:
        raise DatabaseError(f"{flag} {path}: not writable ({exc.strerror or exc}); nothing "
                            f"found there could be saved. Choose a writable directory with "
                            f"{flag} DIR, or fix its permissions.") from None


def _check_redis(spec: str, flag: str, write: bool) -> None:
    db = open_database(spec)
    value = uuid.uuid4().bytes
    try:
        db.redis.ping()
        if write:
            db.save(PROBE_KEY, value)
            if value not in set(db.fetch(PROBE_KEY)):
                raise DatabaseError(f"{flag} {spec}: a probe saved to Redis could not be read "
                                    "back; check that the server is not read-only")
            db.delete(PROBE_KEY, value)
    except DatabaseError:
        raise
    except Exception as exc:  # redis raises many kinds; all mean "unusable"
        raise DatabaseError(f"{flag} {spec}: Redis is not usable ({type(exc).__name__}: "
                            f"{exc}); start the server or fix the URL "
                            "(redis://HOST:PORT/DBNUMBER)") from None


def scan_corrupt(spec) -> tuple:
    """(entries, corrupt) of a directory database: corrupt lists what does not decode."""
    if not spec or is_url(spec) or not os.path.isdir(spec):
        return 0, []
    from hypothesis.database import _hash, choices_from_bytes
    meta = _hash(b".hypothesis-keys")
    entries, corrupt = 0, []
    for name in sorted(os.listdir(spec)):
        kp = os.path.join(spec, name)
        if not os.path.isdir(kp):
            if not name.startswith("."):
                corrupt.append(f"{name}: a file where a key directory belongs")
            continue
        if name == meta:
            continue
        for vname in sorted(os.listdir(kp)):
            entries += 1
            try:
                with open(os.path.join(kp, vname), "rb") as f:
                    ok = choices_from_bytes(f.read()) is not None
                why = "does not decode as a Hypothesis example"
            except OSError as exc:
                ok, why = False, f"unreadable ({exc.strerror})"
            if not ok:
                corrupt.append(f"{name}/{vname}: {why}")
    return entries, corrupt


def redis_entries(spec: str) -> int:
    """Examples held under this project's key prefix in the Redis database ``spec`` (every
    member of every key's set; the writability probe's key excluded)."""
    db = open_database(spec)
    probe = REDIS_PREFIX + PROBE_KEY
    try:
        return sum(db.redis.scard(k) for k in db.redis.scan_iter(match=REDIS_PREFIX + b"*")
                   if k != probe)
    except Exception as exc:  # redis raises many kinds; all mean "unusable"
        raise DatabaseError(f"--db {spec}: Redis could not be read ({type(exc).__name__}: "
                            f"{exc}); start the server or fix the URL") from None


def check(params: dict) -> dict:
    """Check every database and the report directory before the run (DatabaseError)."""
    check_writable_dir(params["report"], "--report")
    db, local, shared = params.get("db"), params.get("db_local"), params.get("db_shared")
    if db:
        if is_url(db):
            _check_redis(db, "--db", write=True)
            if local:
                check_writable_dir(local, "--db-local")
        else:
            check_writable_dir(db, "--db")
    if shared:
        if is_url(shared):
            _check_redis(shared, "--db-shared", write=False)
        elif not os.path.isdir(shared):
            raise DatabaseError(f"--db-shared {shared}: no such directory; give the path of "
                                "a copy of the nightly database, or a redis:// URL")
    if is_url(db):
        return {"entries_before": redis_entries(db), "corrupt": []}
    entries, corrupt = scan_corrupt(db)
    return {"entries_before": entries, "corrupt": corrupt}


# ============================================================================
# In a worker
# ============================================================================


def worker_database(params: dict, prefix: bytes, replay: bool):
    """The database a worker hands to Hypothesis (None when the run has none)."""
    if not params.get("db") and not params.get("db_shared"):
        return None
    primary = open_database(params.get("db"))
    fallback = open_database(params.get("db_local")) if is_url(params.get("db")) else None
    shared = open_database(params.get("db_shared"))
    return WorkerDatabase(primary, fallback, shared, prefix, replay)


def _base():
    from hypothesis.database import ExampleDatabase
    return ExampleDatabase


class WorkerDatabase(_base()):
    """Every key prefixed; saves counted and confirmed; reads from primary then shared.

    ``stats()``: saves (confirmed in the primary), fallback (saved locally because the
    primary refused), lost (saved nowhere), pareto (saves of examples that reached a
    new behaviour), fetched / fetched_shared (entries read back for replay from --db and
    --db-local / from --db-shared), replayed (entries read before this worker saved
    anything: what earlier runs and other machines left), errors (the first few messages).
    """

    def __init__(self, primary, fallback, shared, prefix: bytes, replay: bool):
        super().__init__()
        self.primary, self.fallback, self.shared = primary, fallback, shared
        self.prefix, self.replay = prefix, replay
        self.counts = {"saves": 0, "fallback": 0, "lost": 0, "pareto": 0, "fetched": 0,
                       "fetched_shared": 0, "replayed": 0}
        self.errors: list = []

    def __repr__(self):
        return (f"WorkerDatabase({self.primary!r}, fallback={self.fallback!r}, "
                f"shared={self.shared!r}, prefix={self.prefix!r}, replay={self.replay})")

    def stats(self) -> dict:
        return dict(self.counts, errors=list(self.errors))

    def _error(self, where: str, exc: BaseException) -> None:
        if len(self.errors) < 5:
            self.errors.append(f"{where}: {type(exc).__name__}: {exc}")

    def _landed(self, db, key: bytes, value: bytes) -> bool:
        vp = getattr(db, "_value_path", None)          # a directory database fails silently
        return vp(key, value).exists() if vp else True

    def _save_to(self, db, k: bytes, value: bytes, count: str, where: str,
                 missing_is_error: bool) -> bool:
        """Save the entry to ``db``; True, counted in ``counts[count]``, when it is there
        afterwards.  A failed save (and, with ``missing_is_error``, an entry not there
        afterwards) is recorded as an error of ``where``."""
        try:
            db.save(k, value)
            if self._landed(db, k, value):
                self.counts[count] += 1
                return True
            if missing_is_error:
                raise OSError(f"the entry is not on disk after saving it to {db!r}")
        except Exception as exc:  # counted and reported, never silent
            self._error(where, exc)
        return False

    def save(self, key, value):
        k = self.prefix + key
        if key.endswith(b".pareto"):
            self.counts["pareto"] += 1
        if self.primary is not None and self._save_to(self.primary, k, value, "saves", "save",
                                                      True):
            return
        if self.fallback is not None and self._save_to(self.fallback, k, value, "fallback",
                                                       "save to --db-local", False):
            return
        self.counts["lost"] += 1

    def fetch(self, key):
        if not self.replay:
            return
        for db in (self.primary, self.fallback, self.shared):
            if db is None:
                continue
            try:
                values = list(islice(db.fetch(self.prefix + key),
                                     PARETO_FETCH if key.endswith(b".pareto") else None))
            except Exception as exc:
                self._error("fetch", exc)
                continue
            self.counts["fetched_shared" if db is self.shared else "fetched"] += len(values)
            if not (self.counts["saves"] or self.counts["fallback"] or self.counts["lost"]):
                self.counts["replayed"] += len(values)
            yield from values

    def delete(self, key, value):
        if key.endswith(b".pareto"):
            # Examples kept for reaching a behaviour new to their process: a later chunk
            # that replays one has seen the behaviour, scores it 0 and would delete it, so
            # nothing would outlive the night.  They are kept (at most one save per
            # behaviour per worker per run).
            return
        for db in (self.primary, self.fallback):      # never the read-only shared one
            if db is not None:
                try:
                    db.delete(self.prefix + key, value)
                except Exception as exc:
                    self._error("delete", exc)

    def move(self, src, dest, value):
        self.delete(src, value)
        self.save(dest, value)
