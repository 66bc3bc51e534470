"""OCR of image-only PDF pages with the `tesseract` program (and `pdftoppm` to render).

Used only when both programs are on PATH; otherwise the PDF extractor reports
"no text layer". Runs the programs as subprocesses so no Python OCR package is needed.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import BinaryIO

from kb.errors import ExtractionError
from kb.model import Block


def available() -> bool:
    return bool(shutil.which("tesseract") and shutil.which("pdftoppm"))


def ocr_pdf_pages(stream: BinaryIO, pages: list[int], timeout: float = 120.0) -> list[Block]:
    stream.seek(0)
    blocks: list[Block] = []
    with tempfile.TemporaryDirectory(prefix="kb-ocr-") as tmp:
        pdf = Path(tmp) / "in.pdf"
        pdf.write_bytes(stream.read())
        for page in pages:
            base = Path(tmp) / f"p{page}"
            try:
                subprocess.run(["pdftoppm", "-r", "300", "-png", "-f", str(page), "-l", str(page), "-singlefile",
                                str(pdf), str(base)], check=True, capture_output=True, timeout=timeout)
                done = subprocess.run(["tesseract", f"{base}.png", "stdout"], check=True, capture_output=True,
                                      timeout=timeout)
            except (subprocess.SubprocessError, OSError) as exc:
                raise ExtractionError(f"OCR failed on page {page}: {exc}") from exc
            text = done.stdout.decode("utf-8", "replace")
            for para in text.split("\n\n"):
                para = " ".join(para.split())
                if para:
                    blocks.append(Block("paragraph", para, page=page, ocr=True))
    return blocks
