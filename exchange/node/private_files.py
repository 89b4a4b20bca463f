"""Files that hold the node's secrets (its database, its TLS key) are created private and refused when they are not.

The database holds the token signing key, the Ed25519 footprint signing key, the dashboard session key and peer
secrets: whoever reads it can mint tokens and sign as the node. So the data directory is created 0700 and the
database and key files 0600, by giving the mode to mkdir/os.open at creation (never a chmod after the fact, which
leaves a window where the file is readable); `pcf serve` refuses to start on one others can read or write.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

PRIVATE_FILE, PRIVATE_DIRECTORY = 0o600, 0o700


def private_directory(path: Path) -> Path:
    """`path` created 0700 when missing (its missing parents get the usual mode); an existing one is left as is."""
    path.mkdir(mode=PRIVATE_DIRECTORY, parents=True, exist_ok=True)
    return path


def write_private_file(path: Path, data: bytes) -> None:
    """Write a new file that only its owner can read: 0600 from the moment it exists (O_EXCL: never an old one)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


def sqlite_path(url: str) -> Path | None:
    """The file of a `sqlite:///FILE` URL; None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:") or \
            parsed.database.startswith("file:"):
        return None
    return Path(parsed.database)


def create_private_sqlite(url: str) -> None:
    """Create the SQLite file of `url` empty and 0600 before SQLite does (it would use 0644); its -wal and -shm
    files then get the same mode from SQLite itself. Nothing for other databases or an existing file."""
    path = sqlite_path(url)
    if path is None or path.exists() or not path.parent.is_dir():
        return
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        pass  # another process created it meanwhile


def exposed(paths: list[Path]) -> list[tuple[Path, int]]:
    """(path, permission bits) of each existing file in `paths` that its group or others may read or write."""
    found = []
    for path in paths:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            found.append((path, mode))
    return found


def secret_files(db_url: str, key: Path | None) -> list[Path]:
    """The files `pcf serve` checks: a SQLite database with its -wal and -shm files, and the TLS key."""
    paths = []
    if (database := sqlite_path(db_url)) is not None:
        paths += [database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")]
    return paths + ([key] if key is not None else [])
