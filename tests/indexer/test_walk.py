import os

from indexer.walk import walk


def test_hidden_skipped_sorted_and_symlink_loops_end(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_text("x")
    (tmp_path / "b.txt").write_text("b")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "h.txt").write_text("h")
    (tmp_path / ".dot.txt").write_text("d")
    os.symlink(tmp_path, tmp_path / "a" / "loop")  # a loop back to the root
    os.symlink(tmp_path / "missing", tmp_path / "dangling")
    found = [p.relative_to(tmp_path).as_posix() for p in walk([tmp_path])]
    assert found == ["a/x.txt", "b.txt"]


def test_files_are_passed_through_and_missing_paths_ignored(tmp_path):
    f = tmp_path / "one.md"
    f.write_text("# hi")
    assert list(walk([f, tmp_path / "nope"])) == [f]
