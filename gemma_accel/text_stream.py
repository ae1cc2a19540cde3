"""Turning generated token pieces into text safely while streaming.

TextAssembler never splits a UTF-8 character (bytes of an unfinished
character wait for the next piece) and never shows part of a stop string:
text that could still grow into one is held back until it cannot.
"""
import codecs


class TextAssembler:
    def __init__(self, stop=()):
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stop = [s for s in stop if s]
        self._pending = ""   # decoded, not yet shown
        self.text = ""       # everything shown so far
        self.stopped = False

    def _held_back(self, text: str) -> int:
        """Length of the longest suffix of text that is a proper prefix of a stop string."""
        longest = 0
        for s in self._stop:
            for n in range(min(len(s) - 1, len(text)), longest, -1):
                if text.endswith(s[:n]):
                    longest = n
                    break
        return longest

    def feed(self, piece: bytes) -> str:
        """Add a token's bytes; return the text that may be shown now ('' if none)."""
        if self.stopped:
            return ""
        self._pending += self._decoder.decode(piece)
        return self._release(final=False)

    def finish(self) -> str:
        """Flush at the end of generation (an unfinished character becomes U+FFFD)."""
        if not self.stopped:
            self._pending += self._decoder.decode(b"", final=True)
        return self._release(final=True)

    def _release(self, final: bool) -> str:
        cut = -1
        for s in self._stop:
            i = self._pending.find(s)
            if i >= 0 and (cut < 0 or i < cut):
                cut = i
        if cut >= 0:
            out, self._pending, self.stopped = self._pending[:cut], "", True
        elif final:
            out, self._pending = self._pending, ""
        else:
            keep = self._held_back(self._pending)
            out = self._pending[: len(self._pending) - keep]
            self._pending = self._pending[len(out):]
        self.text += out
        return out
