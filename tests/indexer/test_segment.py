from indexer.segment import MAX_WORDS, segment
from kb.model import Block, Extracted


def words(n, w="word"):
    return " ".join(f"{w}{i}" for i in range(n)) + "."


def run(blocks):
    return segment("doc", Extracted("txt", blocks))


def test_passage_text_is_the_document_slice_and_ids_are_stable():
    full, ps = run([Block("heading", "Intro", 1, level=1), Block("paragraph", words(30), 1),
                    Block("paragraph", words(40), 2)])
    assert [p.id for p in ps] == [f"doc-{i}" for i in range(len(ps))]
    for p in ps:
        assert full[p.char_start:p.char_end] == p.text


def test_never_across_a_heading_and_heading_path_nests():
    _, ps = run([Block("heading", "Part A", 1, level=1), Block("paragraph", words(10), 1),
                 Block("heading", "A.1", 1, level=2), Block("paragraph", words(10, "x"), 1),
                 Block("heading", "Part B", 2, level=1), Block("paragraph", words(10, "y"), 2)])
    assert [p.heading_path for p in ps] == [["Part A"], ["Part A", "A.1"], ["Part B"]]
    assert ps[2].page_start == ps[2].page_end == 2


def test_small_paragraphs_merge_up_to_the_size_and_long_ones_split_at_sentences():
    long_para = " ".join(f"Sentence number {i} says something about e-government services." for i in range(80))
    _, ps = run([Block("paragraph", words(20), 1), Block("paragraph", words(20, "b"), 1),
                 Block("paragraph", long_para, 1)])
    assert ps[0].text.count("word0") == 1 and "b0" in ps[0].text  # two short paragraphs joined
    rest = ps[1:]
    assert len(rest) >= 2
    assert all(len(p.text.split()) <= MAX_WORDS for p in rest)
    assert all(p.text.rstrip().endswith(".") for p in rest)  # cut at sentence ends


def test_a_table_row_is_never_split_even_when_long():
    row = "Name: " + words(400, "cell")
    _, ps = run([Block("table_row", row, 3)])
    assert len(ps) == 1 and ps[0].text == row and ps[0].kind == "table_row"


def test_pages_give_a_range_and_prefer_breaks_at_page_changes():
    _, ps = run([Block("paragraph", words(70), 1), Block("paragraph", words(30, "p2"), 2)])
    assert (ps[0].page_start, ps[0].page_end) == (1, 1)
    assert ps[1].page_start == 2
    _, ps = run([Block("paragraph", words(10), 1), Block("paragraph", words(10, "p2"), 2)])
    assert len(ps) == 1 and (ps[0].page_start, ps[0].page_end) == (1, 2)


def test_a_slide_with_only_a_title_is_a_passage():
    _, ps = run([Block("title", "Vision 2020", 1), Block("title", "Results", 2), Block("paragraph", "Up 20%.", 2)])
    assert ps[0].text == "Vision 2020" and ps[0].page_start == 1
    assert ps[1].heading_path == ["Results"] and ps[1].text == "Up 20%."


def test_empty_and_whitespace_blocks_are_dropped():
    full, ps = run([Block("paragraph", "   "), Block("paragraph", "")])
    assert full == "" and ps == []
