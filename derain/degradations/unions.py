"""Unions of named parameter ranges — the shared shape of rain, noise and 1D streak specs.

A spec is a tuple of ranges; each sample draws one component uniformly. ``covers`` says whether another spec
lies inside this one's ranges, which is how a degradation is classed 'seen' or 'unseen'.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from derain.errors import ConfigError


@dataclass(frozen=True)
class UnionSpec:
    components: tuple[Any, ...]  # ranges with a ``name`` and ``covers(other_range)``

    @property
    def name(self) -> str:
        return "+".join(c.name for c in self.components)

    def covers(self, other: object) -> bool:
        """True when every component of ``other`` (a spec of the same kind) lies inside one of ours."""
        if not isinstance(other, type(self)):
            return False
        return all(any(mine.covers(theirs) for mine in self.components) for theirs in other.components)


def parse_union(text: str, table: Mapping[str, Any], what: str) -> tuple[Any, ...]:
    """Ranges named by ``text`` ('small' or 'small+medium'); ConfigError listing ``table``'s names otherwise."""
    parts = [p.strip() for p in str(text).split("+")]
    if not all(p in table for p in parts):
        raise ConfigError(f"unknown {what} '{text}' (known: {', '.join(table)}; join with '+')")
    return tuple(table[p] for p in parts)


S = TypeVar("S", bound=UnionSpec)


def resolve_spec(spec: str | Any, cls: type[S], range_cls: type, table: Mapping[str, Any], what: str) -> S:
    """A spec of class ``cls`` from a name or '+'-joined union of ``table``'s names, a single range or a spec."""
    if isinstance(spec, cls):
        return spec
    if isinstance(spec, range_cls):
        return cls((spec,))
    return cls(parse_union(spec, table, what))
