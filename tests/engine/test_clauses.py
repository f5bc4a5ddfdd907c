"""Model text -> clauses for the voice."""

from __future__ import annotations

from opencall.engine.clauses import ClauseSplitter


def split(tokens: list[str]) -> list[str]:
    splitter = ClauseSplitter()
    out = [c for t in tokens for c in splitter.feed(t)]
    return out + splitter.flush()


def test_first_clause_goes_at_the_first_punctuation_even_if_short() -> None:
    assert split(["Sure", ",", " I can", " book that", " for you", " on Tuesday", "."]) == [
        "Sure,",
        "I can book that for you on Tuesday.",
    ]


def test_first_clause_without_punctuation_is_cut_after_five_whole_words() -> None:
    splitter = ClauseSplitter()
    assert splitter.feed("I'd be happy to hel") == []  # "hel" may still grow
    assert splitter.feed("p you with that.") == ["I'd be happy to help"]
    assert splitter.flush() == ["you with that."]


def test_later_clauses_wait_for_enough_text_and_never_split_numbers() -> None:
    text = "Yes. We open at 9.30, close at 5, and it costs 1,000 dollars. Bye."
    assert split([text[i : i + 3] for i in range(0, len(text), 3)]) == [
        "Yes.",
        "We open at 9.30, close at 5,",
        "and it costs 1,000 dollars.",
        "Bye.",
    ]


def test_a_long_run_without_punctuation_is_cut_at_a_space() -> None:
    clauses = split(["Okay. ", "word " * 40])
    assert clauses[0] == "Okay." and all(len(c) <= 120 for c in clauses) and len(clauses) >= 3
