"""CTC decoding of the recogniser's characters and of the lip reader's phonemes: `greedy`
(best path: repeats collapsed, blanks dropped), or `lexicon`, a prefix beam search whose
hypotheses may only spell words of the lexicon (a prefix trie), falling back to the
greedy transcript when no hypothesis ends on a whole word; and for a corpus of isolated
words (LRW), `word_decode`, the lexicon word most likely under the CTC posteriors. Labels
are strings: characters, or phoneme symbols of several characters each."""

from __future__ import annotations

import numpy as np

WORD_END = ""  # trie key marking that the path to a node spells a whole word
PRUNE = 1e-3  # beam search: characters below this posterior at a frame are not tried there


def build_trie(words: list[str]) -> dict:
    """Prefix trie of the lexicon: nested dicts char -> node; WORD_END in a node ends a word."""
    root: dict = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[WORD_END] = True
    return root


def greedy_decode(log_probs: np.ndarray, vocab: list[str]) -> str:
    """Best path of [T, vocab + 1] log-probabilities: repeats collapsed, blanks (0) dropped."""
    best = np.asarray(log_probs).argmax(-1)
    if best.size == 0:  # an input shorter than one step
        return ""
    keep = best[(best != 0) & np.append(True, best[1:] != best[:-1])]
    return " ".join("".join(vocab[i - 1] for i in keep).split())


def lexicon_decode(log_probs: np.ndarray, vocab: list[str], trie: dict, beam: int, spaced: bool) -> str:
    """CTC prefix beam search that only spells words of the lexicon trie.

    In a spaced language a space may only follow a whole word, and a word may only continue
    along the trie. In an unspaced one a whole word may be followed directly by the first
    character of the next. Probabilities are kept linear and rescaled every frame (the beam's
    ranking is all that matters), and at each frame only the characters above PRUNE are
    tried: CTC posteriors are peaked, so most frames extend nothing. The best hypothesis
    that ends on a whole word wins; when none does, the greedy transcript is returned.
    """
    probs = np.exp(np.asarray(log_probs, dtype=np.float64))
    space = vocab.index(" ") + 1 if " " in vocab else -1
    labels = [""] + list(vocab)

    def step(node: dict, c: int) -> dict | None:
        """The trie node after label c, or None when c would leave the lexicon."""
        if c == space:
            return trie if spaced and WORD_END in node else None
        child = node.get(labels[c])
        if child is None and not spaced and WORD_END in node:
            child = trie.get(labels[c])
        return child

    # prefix (tuple of labels) -> [p ending in blank, p ending in its last label]
    beams: dict[tuple, list[float]] = {(): [1.0, 0.0]}
    nodes: dict[tuple, dict] = {(): trie}
    for p in probs:
        candidates = np.flatnonzero(p[1:] > PRUNE) + 1
        nxt: dict[tuple, list[float]] = {}
        for prefix, (pb, pnb) in beams.items():
            total = pb + pnb
            last = prefix[-1] if prefix else 0
            cur = nxt.setdefault(prefix, [0.0, 0.0])
            cur[0] += total * p[0]
            if last:
                cur[1] += pnb * p[last]  # the last label held on: still the same prefix
            node = nodes[prefix]
            for c in candidates:
                # a repeat of the last label is a new label only after a blank
                ext = (pb if c == last else total) * p[c]
                if ext <= 0.0:
                    continue
                child = step(node, int(c))
                if child is None:
                    continue
                longer = prefix + (int(c),)
                nodes[longer] = child
                nxt.setdefault(longer, [0.0, 0.0])[1] += ext
        ranked = sorted(nxt.items(), key=lambda kv: kv[1][0] + kv[1][1], reverse=True)[:beam]
        scale = ranked[0][1][0] + ranked[0][1][1]
        if scale <= 0.0:  # every path died (a frame with zero posteriors): nothing to rank
            break
        beams = {k: [v[0] / scale, v[1] / scale] for k, v in ranked}
    for prefix in sorted(beams, key=lambda k: beams[k][0] + beams[k][1], reverse=True):
        node = nodes[prefix]
        if prefix and (WORD_END in node or node is trie):
            return " ".join("".join(labels[c] for c in prefix).split())
    return greedy_decode(log_probs, vocab)


def word_decode(log_probs: np.ndarray, vocab: list[str], words: list[str]) -> str:
    """The one word of `words` whose spelling the CTC posteriors [T, vocab + 1] make most
    likely: the decision an isolated-word corpus is scored by (LRW: one of its 500 words per
    clip, as the seed's LRW recogniser classifies). A word with a character outside `vocab`,
    or longer than the clip allows, cannot win."""
    import torch

    index = {ch: i + 1 for i, ch in enumerate(vocab)}
    steps = len(log_probs)
    spellable = [w for w in words if w and all(ch in index for ch in w)]
    if not spellable or steps == 0:
        return ""
    targets = torch.tensor([index[ch] for w in spellable for ch in w])
    lengths = torch.tensor([len(w) for w in spellable])
    lp = torch.as_tensor(np.asarray(log_probs, dtype=np.float32))[:, None].expand(-1, len(spellable), -1)
    nll = torch.nn.functional.ctc_loss(
        lp, targets, torch.full((len(spellable),), steps), lengths, reduction="none", zero_infinity=False
    )
    return spellable[int(torch.argmin(nll))]
