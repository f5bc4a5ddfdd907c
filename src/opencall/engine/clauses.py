"""Streaming model text -> clauses for the voice, the first one as early as it can be spoken."""

from __future__ import annotations

import re

# A boundary is , ; : . ! ? (or a dash) followed by whitespace: "9.30" and "1,000" never split.
_BOUNDARY = re.compile(r"[,;:.!?\u2014](?=\s)")
FIRST_CLAUSE_MIN_CHARS = 4  # "Sure," is worth speaking alone: it starts the audio ~150 ms sooner
# With no punctuation yet, the first clause is cut after this many words: SmolLM2 makes ~35 tokens/s
# on one thread, so waiting for a comma in "I'd be happy to help you with that" costs ~300 ms.
FIRST_CLAUSE_MAX_WORDS = 5
CLAUSE_MIN_CHARS = 20  # later clauses: fewer synth calls, smoother prosody
CLAUSE_MAX_CHARS = 120  # no punctuation for this long: cut at a space rather than wait


class ClauseSplitter:
    def __init__(self) -> None:
        self._buffer = ""
        self._emitted = 0

    def feed(self, text: str) -> list[str]:
        self._buffer += text
        out: list[str] = []
        while True:
            clause = self._next_clause()
            if clause is None:
                return out
            out.append(clause)

    def flush(self) -> list[str]:
        rest, self._buffer = self._buffer.strip(), ""
        return [rest] if rest else []

    def _next_clause(self) -> str | None:
        minimum = FIRST_CLAUSE_MIN_CHARS if self._emitted == 0 else CLAUSE_MIN_CHARS
        for match in _BOUNDARY.finditer(self._buffer):
            if match.end() >= minimum:
                return self._take(match.end())
        if self._emitted == 0:
            words = self._buffer.lstrip().split(" ")
            if len(words) > FIRST_CLAUSE_MAX_WORDS:  # the word after the cut has begun: the cut is whole
                leading = len(self._buffer) - len(self._buffer.lstrip())
                return self._take(leading + len(" ".join(words[:FIRST_CLAUSE_MAX_WORDS])))
        if len(self._buffer) > CLAUSE_MAX_CHARS:
            cut = self._buffer.rfind(" ", 0, CLAUSE_MAX_CHARS)
            return self._take(cut if cut > 0 else CLAUSE_MAX_CHARS)
        return None

    def _take(self, end: int) -> str | None:
        clause, self._buffer = self._buffer[:end].strip(), self._buffer[end:]
        if not clause:
            return None
        self._emitted += 1
        return clause
