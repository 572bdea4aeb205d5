"""Output that appears complete or not at all.

Everything is written under a temporary name in the destination's own
directory (same file system, so the final rename is atomic) and renamed into
place only at the end; any failure, Ctrl-C included, removes the temporary.
"""

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from referral_site.ops import OperationError


def _existing_parent(path: Path) -> Path:
    parent = path.absolute().parent
    if not parent.is_dir():
        raise OperationError(f"directory {parent} does not exist")
    return parent


@contextlib.contextmanager
def atomic_text_file(path: Path) -> Iterator[IO[str]]:
    """A text file for ``path``, renamed over it only when the block succeeds."""
    if path.is_dir():
        raise OperationError(f"{path} is a directory")
    parent = _existing_parent(path)
    try:
        handle = tempfile.NamedTemporaryFile(
            "w",
            encoding="utf-8",
            newline="",
            dir=parent,
            prefix=f".{path.name}.",
            suffix=".partial",
            delete=False,
        )
    except OSError as exc:
        raise OperationError(f"cannot write in {parent}: {exc.strerror or exc}") from None
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(handle.name)
        raise


def check_empty_destination(path: Path) -> None:
    """``path`` must not exist, or be an empty directory."""
    if path.exists():
        if not path.is_dir():
            raise OperationError(f"{path} exists and is not a directory")
        if any(path.iterdir()):
            raise OperationError(f"{path} is not empty; choose a new or empty directory")
    _existing_parent(path)


@contextlib.contextmanager
def atomic_directory(path: Path) -> Iterator[Path]:
    """A temporary directory next to ``path``, renamed to ``path`` when the block succeeds.

    ``path`` must not exist or be an empty directory (rename(2) replaces an
    empty directory atomically).
    """
    check_empty_destination(path)
    parent = _existing_parent(path)
    try:
        temporary = Path(tempfile.mkdtemp(dir=parent, prefix=f".{path.name}.", suffix=".partial"))
    except OSError as exc:
        raise OperationError(f"cannot write in {parent}: {exc.strerror or exc}") from None
    try:
        yield temporary
        _fsync_directory(temporary)
        try:
            os.rename(temporary, path)
        except OSError as exc:  # filled or created by someone else meanwhile
            raise OperationError(
                f"cannot move the finished backup to {path}: {exc.strerror}"
            ) from exc
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
