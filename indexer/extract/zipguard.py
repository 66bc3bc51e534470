"""Zip-bomb guard for OOXML files: check declared sizes before any parser inflates them."""
from __future__ import annotations

import zipfile
from typing import BinaryIO

from kb.errors import ExtractionError, ResourceLimitError

DEFAULT_MAX_INFLATE_MB = 512  # mirrors kb.settings max_inflate_mb
DEFAULT_MAX_RATIO = 200  # office XML compresses ~10-30x; hundreds means a bomb


def zip_entries(stream: BinaryIO) -> list[zipfile.ZipInfo]:
    """The entries of a zip container, the stream left at its start; bad bytes → ExtractionError."""
    stream.seek(0)
    try:
        with zipfile.ZipFile(stream) as zf:
            return zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ExtractionError(f"malformed zip container: {exc}") from exc
    finally:
        stream.seek(0)


def check_zip(stream: BinaryIO, limits: dict | None = None) -> None:
    limits = limits or {}
    max_bytes = float(limits.get("max_inflate_mb") or DEFAULT_MAX_INFLATE_MB) * 1024 * 1024
    max_ratio = float(limits.get("max_inflate_ratio") or DEFAULT_MAX_RATIO)
    infos = zip_entries(stream)
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    if total > max_bytes:
        raise ResourceLimitError(f"zip bomb suspected: {total / 1048576:.0f} MiB uncompressed, "
                                 f"limit {max_bytes / 1048576:.0f} MiB")
    # Small files can have high ratios harmlessly (an empty sheet); judge only real volume.
    if total > 20 * 1048576 and packed and total / packed > max_ratio:
        raise ResourceLimitError(f"zip bomb suspected: compression ratio {total / packed:.0f}:1 "
                                 f"exceeds {max_ratio:.0f}:1")
    for info in infos:
        if info.compress_size and info.file_size > 20 * 1048576 and info.file_size / info.compress_size > max_ratio:
            raise ResourceLimitError(f"zip bomb suspected: {info.filename} inflates "
                                     f"{info.file_size / info.compress_size:.0f}:1")
