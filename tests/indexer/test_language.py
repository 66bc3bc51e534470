from indexer.language import detect


def test_detects_languages_of_real_sentences() -> None:
    assert detect("The Global e-Government Forum was held in Seoul with participants from 50 countries.") == "en"
    assert detect("Die Kugeloberfläche lässt sich durch strecken, stauchen und umformen zur Würfeloberfläche "
                  "verformen.") == "de"
    assert detect("L'été était très chaud cette année. J'ai acheté un café au lait pour trois euros.") == "fr"
    assert detect("El niño comió paella con ñoquis y la señora dijo que estaba muy rico.") == "es"
    assert detect("대한민국 정부는 전자정부 서비스를 국민에게 제공하고 있으며 많은 사람들이 이용합니다") == "ko"
    assert detect("الأمم المتحدة منظمة دولية تأسست بعد الحرب العالمية الثانية للحفاظ على السلام") == "ar"


def test_short_or_empty_text_has_no_language() -> None:
    for text in (None, "", "   ", "OK", "12 345 678 / 2012", "e-Gov"):
        assert detect(text) is None
