"""Legacy .doc/.ppt/.xls: converted with LibreOffice (soffice) when installed."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from kb.errors import ExtractionError, ResourceLimitError, UnsupportedFormatError
from kb.model import Extracted

_TARGET = {"doc": "docx", "ppt": "pptx", "xls": "xlsx"}


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def extract(stream: BinaryIO, reread: Callable[..., Extracted], password: str | None = None,
            limits: dict | None = None, fmt: str = "doc") -> Extracted:
    """reread: indexer.extract.extract, which reads the converted file (passed in, as this
    module is one of the parsers that function picks)."""
    program = soffice()
    if not program:
        raise UnsupportedFormatError(f"unsupported format .{fmt}: install LibreOffice (soffice) to convert it")
    target = _TARGET[fmt]
    timeout = float((limits or {}).get("timeout") or 120)
    with tempfile.TemporaryDirectory(prefix="kb-soffice-") as tmp:
        src = Path(tmp) / f"in.{fmt}"
        src.write_bytes(stream.read())
        try:
            # A private profile dir lets conversions run in parallel without fighting over a lock.
            subprocess.run([program, f"-env:UserInstallation=file://{tmp}/profile", "--headless",
                            "--convert-to", target, "--outdir", tmp, str(src)],
                           check=True, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise ResourceLimitError(f"LibreOffice took longer than {timeout:.0f}s to convert .{fmt}") from exc
        except (subprocess.CalledProcessError, OSError) as exc:
            raise ExtractionError(f"LibreOffice could not convert .{fmt}: {exc}") from exc
        out = Path(tmp) / f"in.{target}"
        if not out.exists():
            raise ExtractionError(f"LibreOffice could not convert .{fmt} (no output)")
        result = reread(out, password=password, limits=limits)
    result.format = fmt
    result.metadata["converted_with"] = "soffice"
    return result
