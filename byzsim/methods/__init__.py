"""The five methods of Rammal et al. (2024), keyed by their config names.

Adding a method means adding a module with a :class:`~byzsim.methods.base.Method`
subclass and one entry in :data:`METHODS`.
"""

from byzsim.methods.base import Method, Round
from byzsim.methods.dasha_page import ByzDashaPage
from byzsim.methods.ef21 import ByzEF21, ByzEF21BC
from byzsim.methods.vr_marina import ByzVRMarina, ByzVRMarina2

METHODS: dict[str, type[Method]] = {
    cls.name: cls for cls in (ByzVRMarina, ByzVRMarina2, ByzDashaPage, ByzEF21, ByzEF21BC)
}


def method_class(name: str) -> type[Method]:
    """Return the method class registered as ``name``.

    Raises
    ------
    ValueError
        If ``name`` is not a known method; the message lists the known ones.
    """
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; expected one of {sorted(METHODS)}") from None


__all__ = ["METHODS", "Method", "Round", "method_class"]
