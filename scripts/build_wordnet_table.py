"""Build photosim/core/imagenet_words.json.gz: every English noun above an ImageNet class.

ImageNet-1k's classes are WordNet 3.0 noun synsets. This script reads the WordNet 3.0
database files that Debian's ``wordnet-base`` package installs (``/usr/share/wordnet``)
directly, finds the synset of each of the 1000 classes (by its lemmas, in class order, which
is the order of the synset ids), walks up the hypernym links, and writes a compact table:

* ``wnids``: the 1000 class synset ids ("n02084071" style), in class order;
* ``synsets``: every synset at or above a class: its lemmas and the classes beneath it;
* ``words``: each lemma (lower case, spaces) -> the synsets it names, most common sense first;
* ``plurals``: WordNet's irregular plurals of those words ("mice" -> "mouse").

Run it at development time only and commit the output; the app never reads WordNet itself::

    apt-get install wordnet-base
    python scripts/build_wordnet_table.py [--wordnet /usr/share/wordnet]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLASSES = ROOT / "photosim" / "core" / "imagenet_classes.json"
OUTPUT = ROOT / "photosim" / "core" / "imagenet_words.json.gz"
HYPERNYM_POINTERS = ("@", "@i")
# Where WordNet offers two senses with the same lemmas ("monitor" the display and the
# warship), the lemmas cannot tell which ImageNet took: its choices, by class index.
IMAGENET_SENSES = {102: "n01872401", 156: "n02086646", 398: "n02666196", 456: "n02879718",
                   471: "n02950826", 544: "n03259280", 624: "n03661043", 664: "n03782006",
                   698: "n03877845", 718: "n03933933", 745: "n04009552", 753: "n04040759",
                   758: "n04067472", 780: "n04147183", 783: "n04153751", 816: "n04277352",
                   830: "n04336792"}
ORGANISM = 4475  # "organism, being"
# Synsets too abstract to name a cluster by ("artifacts", "whole units"): naming skips them,
# so a cluster that only they cover is "Mixed". Word search still understands them.
TOO_ABSTRACT_TO_NAME = {"entity", "physical entity", "object", "whole", "artifact",
                        "living thing", "organism", "instrumentality", "commodity",
                        "consumer goods", "matter", "substance", "solid", "covering",
                        "protective covering", "conveyance", "equipment", "implement",
                        "chordate", "vertebrate", "placental", "invertebrate", "diapsid",
                        "device", "container", "structure", "domestic animal", "food"}


@dataclass
class Synset:
    offset: int
    lemmas: list[str]
    hypernyms: list[int] = field(default_factory=list)


def lemma_text(raw: str) -> str:
    """WordNet writes "sports_car" and marks adjective positions ("(a)"); people type words."""
    return raw.split("(")[0].replace("_", " ")


def parse_data(path: Path) -> dict[int, Synset]:
    """The noun synsets of ``data.noun``: offset, lemmas, hypernym offsets."""
    synsets: dict[int, Synset] = {}
    for line in path.read_text("latin-1").splitlines():
        if line.startswith(" "):  # the licence header
            continue
        fields = line.split(" | ")[0].split()
        offset, word_count = int(fields[0]), int(fields[3], 16)
        lemmas = [lemma_text(fields[4 + 2 * i]) for i in range(word_count)]
        at = 4 + 2 * word_count
        pointer_count = int(fields[at])
        pointers = [fields[at + 1 + 4 * i: at + 5 + 4 * i] for i in range(pointer_count)]
        hypernyms = [int(p[1]) for p in pointers if p[0] in HYPERNYM_POINTERS and p[2] == "n"]
        synsets[offset] = Synset(offset, lemmas, hypernyms)
    return synsets


def wordnet_licence(path: Path) -> str:
    """The WordNet 3.0 licence at the head of ``data.noun``, which its copies must carry."""
    lines = [re.sub(r"^\s+\d+ ?", "", line).rstrip()
             for line in path.read_text("latin-1").splitlines() if line.startswith("  ")]
    return " ".join(line for line in lines if line).strip()


def parse_senses(path: Path) -> dict[str, list[int]]:
    """``index.noun``: lemma -> its synset offsets, most frequent sense first."""
    senses: dict[str, list[int]] = {}
    for line in path.read_text("latin-1").splitlines():
        if line.startswith(" "):
            continue
        fields = line.split()
        synset_count, pointer_count = int(fields[2]), int(fields[3])
        offsets = fields[4 + pointer_count + 2:]
        assert len(offsets) == synset_count, line
        senses[lemma_text(fields[0])] = [int(o) for o in offsets]
    return senses


def parse_plurals(path: Path) -> dict[str, str]:
    """``noun.exc``: irregular plural -> singular ("geese" -> "goose")."""
    plurals = {}
    for line in path.read_text("latin-1").splitlines():
        inflected, base = line.split()[:2]
        plurals[lemma_text(inflected)] = lemma_text(base)
    return plurals


def class_synsets(synsets: dict[int, Synset], classes: list[dict[str, object]],
                  senses: dict[str, list[int]]) -> list[int]:
    """Each class's synset. A class lists its synset's lemmas (photosim's list adds a few
    synonyms, e.g. "rooster" to "cock"), and ImageNet orders its classes by synset id, so the
    choice is the increasing sequence of synsets that best matches the classes' lemma lists:
    "hen" is the bird after "cock", not the meat further down. Where two senses match
    equally ("hammer" the tool and the piano part), the more common sense wins."""
    by_lemma: dict[str, set[int]] = defaultdict(set)
    for synset in synsets.values():
        for lemma in synset.lemmas:
            by_lemma[lemma.lower()].add(synset.offset)
    candidates = [_candidates(entry, synsets, by_lemma, senses) for entry in classes]
    for index, wnid in IMAGENET_SENSES.items():
        candidates[index] = [(int(wnid[1:]), 1.0)]
    return _best_increasing(candidates)


def _candidates(entry: dict[str, object], synsets: dict[int, Synset],
                by_lemma: dict[str, set[int]],
                senses: dict[str, list[int]]) -> list[tuple[int, float]]:
    """(offset, agreement) for synsets sharing a lemma with the class; agreement is the
    Jaccard overlap of the two lemma sets, less a little for rarer senses of the first."""
    wanted = {str(s).lower() for s in entry["synonyms"]}  # type: ignore[attr-defined]
    offsets = set().union(*(by_lemma.get(w, set()) for w in wanted))
    scored = []
    for offset in sorted(offsets):
        lemmas = {lemma.lower() for lemma in synsets[offset].lemmas}
        common = senses.get(str(entry["synonyms"][0]), [])  # type: ignore[index]
        rarity = common.index(offset) if offset in common else len(common)
        scored.append((offset, len(lemmas & wanted) / len(lemmas | wanted) - 1e-3 * rarity))
    if not scored:
        sys.exit(f"class {entry['name']} shares no lemma with any WordNet 3.0 noun")
    return scored


def _best_increasing(candidates: list[list[tuple[int, float]]]) -> list[int]:
    """One offset per class, strictly increasing, with the highest total agreement."""
    # best[c][j]: (total, previous choice) for class c taking its j-th candidate
    best: list[list[tuple[float, int]]] = []
    for index, options in enumerate(candidates):
        row = []
        for offset, score in options:
            if index == 0:
                row.append((score, -1))
                continue
            earlier = [(best[index - 1][k][0], k)
                       for k, (prev, _) in enumerate(candidates[index - 1]) if prev < offset]
            total, back = max(earlier, default=(float("-inf"), -1))
            row.append((total + score, back))
        best.append(row)
    choice = max(range(len(best[-1])), key=lambda k: best[-1][k][0])
    if best[-1][choice][0] == float("-inf"):
        sys.exit("the classes do not match WordNet 3.0 synsets in increasing order")
    picked = []
    for index in range(len(candidates) - 1, -1, -1):
        picked.append(candidates[index][choice][0])
        choice = best[index][choice][1]
    return picked[::-1]


def ancestors(offset: int, synsets: dict[int, Synset]) -> set[int]:
    """The synset and every synset above it along all hypernym paths."""
    seen, stack = set(), [offset]
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(synsets[current].hypernyms)
    return seen


def _kind_of(offsets: list[int], synsets: dict[int, Synset],
             beneath: dict[int, list[int]]) -> list[int]:
    """For a word naming a kind of living thing that has no class of its own ("puppy",
    "kitten", "lamb"): the category just above it when the model knows several classes of
    it (every puppy is a dog). Objects get no such guess: the classes under "mill" are
    lumber mills, not the windmill someone asked for."""
    found = []
    for offset in offsets:
        for parent in synsets[offset].hypernyms:
            if (len(beneath.get(parent, ())) >= 2
                    and ORGANISM in ancestors(parent, synsets) and parent not in found):
                found.append(parent)
    return found


def as_ranges(indices: list[int]) -> list[list[int]]:
    """Sorted class indices -> inclusive [first, last] runs (most subtrees are contiguous)."""
    runs: list[list[int]] = []
    for index in sorted(indices):
        if runs and runs[-1][1] == index - 1:
            runs[-1][1] = index
        else:
            runs.append([index, index])
    return runs


def build(wordnet: Path) -> dict[str, object]:
    synsets = parse_data(wordnet / "data.noun")
    senses = parse_senses(wordnet / "index.noun")
    classes = json.loads(CLASSES.read_text("utf-8"))["classes"]
    offsets = class_synsets(synsets, classes, senses)
    beneath: dict[int, list[int]] = defaultdict(list)
    for index, offset in enumerate(offsets):
        for above in ancestors(offset, synsets):
            beneath[above].append(index)
    ordered = sorted(beneath, key=lambda o: (len(beneath[o]), o))  # specific first
    position = {offset: i for i, offset in enumerate(ordered)}
    words: dict[str, list[int]] = {}
    for lemma, meanings in sorted(senses.items()):
        named = [position[o] for o in meanings if o in position]
        if named:
            words[lemma.lower()] = named
    for lemma, meanings in sorted(senses.items()):
        kinds = _kind_of(meanings, synsets, beneath)
        if lemma.lower() not in words and kinds:
            words[lemma.lower()] = [position[o] for o in kinds]
    plurals = {plural.lower(): base.lower()
               for plural, base in parse_plurals(wordnet / "noun.exc").items()
               if base.lower() in words and plural.lower() not in words}
    return {
        "about": "Generated by scripts/build_wordnet_table.py from WordNet 3.0 (Princeton "
                 "University, WordNet 3.0 licence). Do not edit by hand.",
        "licence": wordnet_licence(wordnet / "data.noun"),
        "wnids": [f"n{o:08d}" for o in offsets],
        "synsets": [{"lemmas": synsets[o].lemmas, "classes": as_ranges(beneath[o])}
                    for o in ordered],
        "words": words,
        "unnamed": [i for i, o in enumerate(ordered)
                    if synsets[o].lemmas[0].lower() in TOO_ABSTRACT_TO_NAME],
        "plurals": plurals,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wordnet", type=Path, default=Path("/usr/share/wordnet"))
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    if not (args.wordnet / "data.noun").is_file():
        sys.exit(f"no WordNet 3.0 database in {args.wordnet}: apt-get install wordnet-base")
    table = build(args.wordnet)
    text = json.dumps(table, separators=(",", ":"), sort_keys=False)
    args.output.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
    print(f"{args.output}: {len(table['synsets'])} synsets, "  # type: ignore[arg-type]
          f"{len(table['words'])} words, {len(text):,} bytes of JSON, "  # type: ignore[arg-type]
          f"{args.output.stat().st_size:,} gzipped")


if __name__ == "__main__":
    main()
