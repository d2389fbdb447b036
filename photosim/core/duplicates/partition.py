"""One group per photo, from the clusters found at each level of closeness.

Complete-linkage clustering runs once per level (exact, same picture, edited, similar scene)
and each level's clusters may overlap the others'. A user should review each photo once, so
the clusters become a partition:

* the copies (levels up to :data:`COPY_LEVELS`) join one group: clusters that share a photo
  are one picture and its copies (each cluster holds together at its level, and a copy stands
  for its picture);
* another shot of the scene joins the group of copies it was found with, as a similar-scene
  member, or, with no copies around, a group of shots of its own. A similar-scene cluster
  never merges two groups of copies: two pictures of one scene stay two groups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class Part:
    """A group of the partition: its members and the level at which each one joined."""

    joined: dict[int, int] = field(default_factory=dict)  # member -> level, in join order

    @property
    def members(self) -> list[int]:
        return list(self.joined)


def partition(clusters_by_level: Sequence[Sequence[Sequence[int]]],
              copy_levels: int) -> list[Part]:
    """Parts of at least two members; ``clusters_by_level[level]`` are that level's clusters,
    the first ``copy_levels`` levels the copies' (the rest: other shots)."""
    part_of: dict[int, Part] = {}
    for level, clusters in enumerate(clusters_by_level[:copy_levels]):
        for cluster in clusters:
            _join_copies(cluster, level, part_of)
    for level, clusters in enumerate(clusters_by_level[copy_levels:], start=copy_levels):
        for cluster in clusters:
            _join_shots(cluster, level, part_of)
    unique = {id(p): p for p in part_of.values()}
    return sorted((p for p in unique.values() if len(p.joined) >= 2),
                  key=lambda p: min(p.joined))


def _join_copies(cluster: Sequence[int], level: int, part_of: dict[int, Part]) -> None:
    """Merge the parts this cluster touches and add its other members."""
    touched = list({id(part_of[m]): part_of[m] for m in cluster if m in part_of}.values())
    if not touched:
        if len(cluster) < 2:
            return
        touched = [Part()]
    target = max(touched, key=lambda p: len(p.joined))
    for other in touched:
        if other is not target:
            for member, joined_at in other.joined.items():
                target.joined.setdefault(member, joined_at)
                part_of[member] = target
    for member in cluster:
        if member not in target.joined:
            target.joined[member] = level
        part_of[member] = target


def _join_shots(cluster: Sequence[int], level: int, part_of: dict[int, Part]) -> None:
    """Shots not yet in a part join the part of copies most of the cluster is in, or make one
    of their own."""
    free = [m for m in cluster if m not in part_of]
    if not free:
        return
    sizes: dict[int, tuple[int, Part]] = {}
    for m in cluster:
        if m in part_of:
            count, part = sizes.get(id(part_of[m]), (0, part_of[m]))
            sizes[id(part)] = (count + 1, part)
    if sizes:
        target = max(sizes.values(), key=lambda s: (s[0], -min(s[1].joined)))[1]
    elif len(free) >= 2:
        target = Part()
    else:
        return
    for member in free:
        target.joined[member] = level
        part_of[member] = target
