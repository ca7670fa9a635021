"""The API's words, stated once: download statuses and their aliases, data types and endpoints.

Pandas-free and importing nothing of dfkit, so that every module (the client, the schema, the
frame, the fake server) derives its own view from these and none spells them again.

>>> STATUS_ALIASES["running"], DATA_TYPE_ENDPOINTS["property"], DATA_TYPE_SPELLINGS["person"]
('in_progress', 'properties', 'people')
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "CANCELLED_STATUSES",
    "DATA_TYPES",
    "DATA_TYPE_ENDPOINTS",
    "DATA_TYPE_SPELLINGS",
    "IN_FLIGHT_STATUSES",
    "STATUSES",
    "STATUS_ALIASES",
]

#: The four statuses, in lifecycle order.
STATUSES: tuple[str, ...] = ("queued", "in_progress", "completed", "cancelled")
#: Other spellings of a status the API sends (trimmed, lower-cased), each with the status meant.
STATUS_ALIASES: Mapping[str, str] = MappingProxyType(
    {"running": "in_progress", "started": "in_progress", "in progress": "in_progress"}
)
#: Statuses of a download still being prepared, as the API spells them (trimmed, lower-cased),
#: each with the word a downloads frame uses for it. ``Client.wait`` polls only while it sees one.
IN_FLIGHT_STATUSES: Mapping[str, str] = MappingProxyType(
    {"queued": "queued", "in_progress": "in_progress"}
    | {alias: s for alias, s in STATUS_ALIASES.items() if s in ("queued", "in_progress")}
)
#: Statuses of a cancelled download (both spellings are seen).
CANCELLED_STATUSES = frozenset({"cancelled", "canceled"})

#: The API's data types, each with the plural its search endpoint is named by
#: (``POST /businesses/search``).
DATA_TYPE_ENDPOINTS: Mapping[str, str] = MappingProxyType(
    {"business": "businesses", "product": "products", "property": "properties", "people": "people"}
)
#: The data types, in the order the schema's categories and the field catalog list them.
DATA_TYPES: tuple[str, ...] = tuple(DATA_TYPE_ENDPOINTS)
#: Every spelling of a data type ``Client.search`` accepts (lower-cased), with its plural.
DATA_TYPE_SPELLINGS: Mapping[str, str] = MappingProxyType(
    dict(DATA_TYPE_ENDPOINTS)
    | {plural: plural for plural in DATA_TYPE_ENDPOINTS.values()}
    | {"person": "people"}
)
