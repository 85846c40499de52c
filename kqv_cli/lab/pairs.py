"""The sentence pairs the translation what-ifs train on: short English–French pairs.

A what-if must answer in about a minute a variant on two cores, so the lab's Transformer is
small and its sentences short: the shared Tatoeba pairs (``kqv data eng-fra``, or
``$KQV_DATA_DIR``) when this machine has them, keeping the source sentences of at most four
words; else a built-in set of a few hundred pairs made here from a small grammar (subject, verb,
object), which a small model learns in seconds. The run says which it used.

The built-in set is made so that word order matters: "the dog likes the cat" and "the cat likes
the dog" are both in it, with different French, so a model that reads the source as a bag of
words cannot tell them apart.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from engine.data.pairs import PairSplits, load_pairs

MAX_WORDS = 4  # source words, at most, of a shared pair the lab keeps
MAX_TRAIN, MAX_HELD_OUT = 20_000, 200  # source sentences kept in training, and in validation and test

# the built-in grammar: English, French, and the French form's person
_PRONOUNS = [("I", "je", 0), ("you", "tu", 1), ("he", "il", 2), ("she", "elle", 2), ("we", "nous", 3),
             ("they", "ils", 4)]
_NOUNS = [("the cat", "le chat"), ("the dog", "le chien"), ("the bird", "l'oiseau"), ("the girl", "la fille"),
          ("the boy", "le garçon"), ("the teacher", "le professeur"), ("the horse", "le cheval")]
_OBJECTS = _NOUNS + [("the apple", "la pomme"), ("the house", "la maison"), ("the car", "la voiture"),
                     ("the book", "le livre")]
# English infinitive, French stem, French forms' endings by person (je, tu, il/elle, nous, ils)
_ER = ("e", "es", "e", "ons", "ent")
_VERBS = [("like", "aim", _ER), ("watch", "regard", _ER), ("find", "trouv", _ER), ("love", "ador", _ER),
          ("call", "appell", _ER)]


def _french_subject(subject: str, verb: str) -> str:
    return "j'" if subject == "je" and verb[0] in "aeiou" else subject + " "


def builtin_pairs() -> list[tuple[str, str]]:
    """The built-in pairs: every subject, verb and object of the small grammar."""
    out = []
    subjects = _PRONOUNS + [(en, fr, 2) for en, fr in _NOUNS]
    for en_s, fr_s, person in subjects:
        for en_v, stem, endings in _VERBS:
            fr_v = stem + endings[person]
            if en_v == "call" and person == 3:
                fr_v = "appelons"  # appeler doubles its l except before -ons and -ez
            en_v = en_v + "s" if person == 2 else en_v
            if en_v == "watchs":
                en_v = "watches"
            for en_o, fr_o in _OBJECTS:
                if en_o == en_s:
                    continue
                english = f"{en_s[0].upper()}{en_s[1:]} {en_v} {en_o}."
                french = f"{_french_subject(fr_s, fr_v)}{fr_v} {fr_o}."
                out.append((english, french[0].upper() + french[1:]))
    return out


@dataclass
class LabPairs:
    """The pairs a translation experiment trains, validates and tests on."""

    splits: PairSplits
    source: str  # what the run says it used

    @property
    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for split in ("train", "val", "test"):
            for src, tgts in getattr(self.splits, split):
                h.update(f"{split}\t{src}\t{'|'.join(tgts)}\n".encode())
        return h.hexdigest()[:16]


def _short(groups):
    return [g for g in groups if len(g[0].split()) <= MAX_WORDS]


def lab_pairs(path=None) -> LabPairs:
    """The shared pairs' short sentences when a copy is here (``path``, else ``$KQV_DATA_DIR`` or
    kqv's cache), else the built-in set. Never downloads: the lab works offline."""
    from engine.data.eng_fra import find_eng_fra

    path = path if path is not None else find_eng_fra()
    if path is not None:
        s = load_pairs(path)
        train = _short(s.train)[:MAX_TRAIN]
        val, test = _short(s.val)[:MAX_HELD_OUT], _short(s.test)[:MAX_HELD_OUT]
        n = sum(len(t) for _, t in train + val + test)
        return LabPairs(PairSplits(train, val, test, s.source, n),
                        f"{s.source}: {len(train):,} English sentences of at most {MAX_WORDS} words "
                        f"({n:,} pairs), {len(test)} tested")
    data = builtin_lab_pairs()
    data.source += " (the Tatoeba pairs are not on this machine: kqv data eng-fra)"
    return data


def builtin_lab_pairs() -> LabPairs:
    pairs = builtin_pairs()
    order = np.random.default_rng(7).permutation(len(pairs))
    groups = [(pairs[i][0], [pairs[i][1]]) for i in order]
    held = len(groups) // 10
    splits = PairSplits(groups[2 * held:], groups[:held], groups[held:2 * held], "the built-in pairs",
                        len(groups))
    return LabPairs(splits, f"the built-in pairs: {len(groups)} sentences of a small English–French grammar, "
                            f"{held} tested")
