"""Language of a text as an ISO 639-1 code, with py3langid (offline, model loaded once)."""
from __future__ import annotations

import threading

MIN_LETTERS = 20  # below this, guesses are noise
MIN_CONFIDENCE = 0.5
_lock = threading.Lock()
_identifier = None


def _model():
    global _identifier
    if _identifier is None:
        with _lock:
            if _identifier is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return _identifier


def detect(text: str | None, max_chars: int = 5000) -> str | None:
    """ISO 639-1 code of the dominant language, or None for short, empty or unsure text."""
    if not text:
        return None
    sample = text[:max_chars]
    if sum(ch.isalpha() for ch in sample) < MIN_LETTERS:
        return None
    lang, prob = _model().classify(sample)
    return lang if prob >= MIN_CONFIDENCE else None
