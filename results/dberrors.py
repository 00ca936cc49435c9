"""Database errors as the project's errors: transient (retry, then journal) or final.

SQLAlchemy wraps the driver's exception; what it means is in the driver's error code
(SQLite's extended result codes; PostgreSQL's SQLSTATE classes) or, for a connection
lost mid-statement, in ``connection_invalidated``. Each becomes a one-line StoreError that
says what happened to which database and what to do, never a traceback.
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import exc

from results.errors import StoreError


class StoreUnavailable(StoreError):
    """The database cannot be reached or is locked *for now*: worth retrying."""


class StoreDamaged(StoreError):
    """The database file is corrupt: nothing more is written to it."""


# SQLite primary result codes (the low byte of the extended code).
_BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 5, 6, 8, 10, 11, 13, 14, 26


def translate(e: BaseException, where: str) -> StoreError:
    """The StoreError that ``e`` (from SQLAlchemy or a driver) stands for."""
    if isinstance(e, StoreError):
        return e
    orig: Any = getattr(e, "orig", None) or e
    reason = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    if isinstance(orig, sqlite3.Error):
        code = (getattr(orig, "sqlite_errorcode", 0) or 0) & 0xFF
        if code in (_BUSY, _LOCKED):
            return StoreUnavailable(f"{where} is locked by another process ({reason})")
        if code in (_CORRUPT, _NOTADB):
            return StoreDamaged(
                f"{where} is damaged ({reason}); it was left as it is. Restore a backup, "
                "or point --db / BENCH_DB at another file"
            )
        if code == _READONLY:
            return StoreError(
                f"cannot write {where}: it is read-only ({reason}); check the permissions of "
                "the file and its folder, or point --db at a writable database"
            )
        if code == _FULL or (code == _IOERR and _disk_full(reason, where)):
            return StoreError(f"cannot write {where}: the disk is full ({reason})")
        if code == _IOERR:
            return StoreError(f"cannot read or write {where}: I/O error ({reason})")
        if code == _CANTOPEN:
            return StoreError(f"cannot open {where} ({reason})")
        # Anything else from SQLite ("no such table", a constraint) will not pass by
        # retrying: a one-line error now, not five minutes of retries and a journal.
        return StoreError(f"{where}: {reason}")
    if isinstance(e, exc.DBAPIError) and e.connection_invalidated:
        return StoreUnavailable(f"lost the connection to {where} ({reason})")
    sqlstate = getattr(orig, "sqlstate", None) or ""
    connection_level = not sqlstate and type(orig).__name__ in (
        "OperationalError",
        "InterfaceError",
    )
    if sqlstate.startswith(("08", "57P")) or connection_level:
        # 08: connection exceptions; 57P: admin shutdown / cannot connect now; a driver
        # error without SQLSTATE: the server was not reached (refused, reset, timed out).
        # A wrong password (28P01) or a missing table (42P01) is not retried.
        return StoreUnavailable(f"cannot reach {where} ({reason})")
    if sqlstate.startswith("53"):  # insufficient resources: disk full, out of memory
        return StoreError(f"{where} is out of resources ({reason})")
    if isinstance(e, OSError) and e.errno == errno.ENOSPC:
        return StoreError(f"cannot write {where}: the disk is full ({reason})")
    return StoreError(f"{where}: {type(orig).__name__}: {reason}")


def _disk_full(reason: str, where: str) -> bool:
    """SQLite reports a full disk while growing its WAL or -shm file as an I/O error."""
    if "full" in reason.lower() or "space" in reason.lower():
        return True
    try:
        return shutil.disk_usage(Path(where).parent).free < 256 * 1024
    except OSError:
        return False
