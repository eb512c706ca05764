"""Loops in chains of references (a territory's `parent`, a rep's `manager`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence


def loops(ids: Sequence[str], next_of: Callable[[int], str | None]) -> Iterator[tuple[int, list[str]]]:
    """Each loop once: the index of its first item in file order and the loop from
    there back to it (``['a', 'c', 'b', 'a']``). ``next_of(i)`` is item ``i``'s link;
    links to unknown ids end a chain; of repeated ids the first counts.

    Every item is walked once (linear time), so a chain of thousands of links costs
    what a short one does per link."""
    index = {item: i for i, item in reversed(list(enumerate(ids)))}
    done: set[str] = set()
    for item in ids:
        path: list[str] = []
        at: dict[str, int] = {}  # place in this walk's path
        current: str | None = item
        while current is not None and current in index and current not in done \
                and current not in at:
            at[current] = len(path)
            path.append(current)
            current = next_of(index[current])
        done.update(path)
        if current is not None and current in at:
            loop = path[at[current]:]
            first = min(range(len(loop)), key=lambda k: index[loop[k]])
            yield index[loop[first]], loop[first:] + loop[:first] + [loop[first]]
