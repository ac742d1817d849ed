"""What the lips carry: the model's own lip reader (its CTC head) decoded and scored.

The head reads phonemes of the shared inventory from the visual context. Greedy decoding
gives the phoneme error rate (word boundaries left out); a lexicon beam search over the
phoneme spellings of the words seen in training, as the recogniser decodes characters,
gives words, scored by WER (CER in an unspaced language) like generated speech. Putting
the two side by side separates what the lips show from what the decoder makes of it: a
lip reading much worse than the speech generated from the same features would point to
a bug.
"""

from __future__ import annotations

import csv
from collections import Counter

import numpy as np
import torch

from l2s.data.dataset import ProcessedLanguage
from l2s.data.phonemes import INVENTORY, WORD, WORD_ID, ids, phoneme_edits, spaced, symbols, words_of
from l2s.evaluation.decoding import build_trie, lexicon_decode
from l2s.vcagan.inference import read_lips

# the decoder's labels: the inventory with the word boundary as the space it spells
_LABELS = [" " if s == WORD else s for s in INVENTORY]


class LipReader:
    """Decodes a model's phoneme logits of one language into phonemes and words."""

    def __init__(self, data: ProcessedLanguage, beam: int = 8):
        self.spaced = spaced(data.lang)
        spellings = _lexicon(data)
        words: dict[str, Counter] = {}
        segmenting = dict.fromkeys(spellings, "")  # an unspaced text is cut into the lexicon's words
        for clip in (data.clips[r] for r in data.split("train")):
            for w in words_of(clip["text"], self.spaced, segmenting):
                if w in spellings:
                    words.setdefault("".join(spellings[w]), Counter())[w] += 1
        # a spelling read back as the word most often written that way (homophones collide)
        self.word_of = {spelled: c.most_common(1)[0][0] for spelled, c in words.items()}
        self.trie = build_trie([spellings[c.most_common(1)[0][0]] for c in words.values()])
        self.beam = beam

    def words(self, logits: np.ndarray) -> str:
        """Words read from [T, classes] logits of one clip's valid frames."""
        log_probs = torch.from_numpy(logits).float().log_softmax(-1).numpy()
        spelled = lexicon_decode(log_probs, _LABELS, self.trie, self.beam, spaced=True).split()
        found = [self.word_of[s] for s in spelled if s in self.word_of]
        return (" " if self.spaced else "").join(found)


def _lexicon(data: ProcessedLanguage) -> dict[str, list[str]]:
    path = data.dir / "lexicon.csv"
    if not path.exists():
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        return {row["word"]: row["phonemes"].split() for row in csv.DictReader(f)}


def read(logits: torch.Tensor, lengths: torch.Tensor, reader: LipReader | None) -> list[dict]:
    """Per clip of a batch: the phonemes read (greedy, as symbols) and, with a reader, the words."""
    greedy = read_lips(logits, lengths)
    out = []
    for i, (read_ids, n) in enumerate(zip(greedy, lengths.tolist())):
        row = {"read_phonemes": " ".join(symbols(read_ids))}
        if reader is not None:
            row["read_text"] = reader.words(logits[i, :n].float().cpu().numpy())
        out.append(row)
    return out


def phoneme_error(truth: list[str], read_symbols: list[str]) -> tuple[int, int]:
    """(edits, reference phonemes) of one clip, word boundaries left out."""
    ref = ids(truth)
    return phoneme_edits(ref, ids(read_symbols)), sum(i != WORD_ID for i in ref)
