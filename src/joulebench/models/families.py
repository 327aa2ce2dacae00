"""joulebench's curated architecture table: family -> (type, year, paper), and architecture name -> family.

``FAMILIES`` names each model family with its architecture type, the year the family's paper first
appeared (the year of its first arXiv version where there is one, else of its release), and the paper.
``RULES`` are ordered regular expressions over timm architecture names (the part before the ``.tag``);
the first one that matches gives the family, and optionally a type that overrides the family's (for
families with both convolutional and hybrid members, like MobileNetV4).

Both tables are data files shipped with the package, read once on import: ``families.csv`` and
``family_rules.csv`` beside this module (lines starting with ``#`` are comments).

Types:
    * ``CNN``: token/spatial mixing by convolution (or pooling), no self-attention.
    * ``Transformer``: spatial mixing by self-attention (patch embedding and positional convs allowed).
    * ``Hybrid CNN-Transformer``: convolutional stages or blocks and self-attention blocks together.
    * ``MLP``: spatial mixing by MLPs (and recurrent token mixers, which have no type of their own here).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from joulebench.errors import ConfigError

CNN = "CNN"
TRANSFORMER = "Transformer"
HYBRID = "Hybrid CNN-Transformer"
MLP = "MLP"

#: The architecture types, in display order.
TYPES = (CNN, TRANSFORMER, HYBRID, MLP)


@dataclass(frozen=True)
class Family:
    """One model family.

    Attributes:
        name: Short family name (lower case).
        type: One of :data:`TYPES`.
        year: Year the family's paper first appeared.
        title: Paper (or release) title.
        url: Paper URL (arXiv abstract where there is one).
    """

    name: str
    type: str
    year: int
    title: str
    url: str = ""


def _read_table(name: str) -> list[dict[str, str]]:
    """Rows of the CSV file ``name`` beside this module, its ``#`` comment lines left out."""
    text = files(__package__).joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))


def _family(row: dict[str, str]) -> Family:
    url = row["url"] or (f"https://arxiv.org/abs/{row['arxiv']}" if row["arxiv"] else "")
    return Family(row["name"], row["type"], int(row["year"]), row["title"], url)


#: Family name -> :class:`Family`.
FAMILIES: dict[str, Family] = {f.name: f for f in map(_family, _read_table("families.csv"))}

#: Ordered (regex over the architecture name, family, type override or None). First match wins, so
#: specific patterns come before the general ones they would otherwise fall under.
RULES: tuple[tuple[str, str, str | None], ...] = tuple(
    (r["pattern"], r["family"], r["type"] or None) for r in _read_table("family_rules.csv")
)

_COMPILED = tuple((re.compile(p), fam, typ) for p, fam, typ in RULES)


def _check_tables() -> None:
    for f in FAMILIES.values():
        if f.type not in TYPES:
            raise ValueError(f"family '{f.name}' has unknown type '{f.type}' in families.csv")
    for _, fam, typ in RULES:
        if fam not in FAMILIES:
            raise ValueError(f"rule maps to unknown family '{fam}' in family_rules.csv")
        if typ is not None and typ not in TYPES:
            raise ValueError(f"rule has unknown type '{typ}' in family_rules.csv")


_check_tables()


@lru_cache(maxsize=8192)
def classify(arch: str) -> tuple[Family, str] | None:
    """The family of a timm architecture and its type, or None if no rule matches.

    Args:
        arch: timm architecture name; a ``.tag`` suffix is ignored.

    Returns:
        ``(family, type)``: the type is the rule's override or the family's type.
    """
    arch = arch.split(".")[0]
    for rx, fam, typ in _COMPILED:
        if rx.search(arch):
            f = FAMILIES[fam]
            return f, typ or f.type
    return None


def family_of(arch: str) -> Family:
    """The :class:`Family` of a timm architecture.

    Raises:
        ConfigError: If no rule matches (add one to ``joulebench/models/family_rules.csv``).
    """
    hit = classify(arch)
    if hit is None:
        raise ConfigError(
            f"architecture '{arch}' has no family in joulebench's table: add a rule to "
            "joulebench/models/family_rules.csv (read by families.py)"
        )
    return hit[0]
