"""The results store: record dataclasses, the versioned SQLite database, its reads, the sweep's queries and export.

``from joulebench.store import Store``; pandas is imported only by the DataFrame methods and export.
"""

from joulebench.store.db import Store, as_records
from joulebench.store.reads import FILTERS
from joulebench.store.records import BatchMeasurement, Failure, ModelSummary, RunRecord, config_hash
from joulebench.store.schema import APPLICATION_ID, SCHEMA_VERSION, TABLES

__all__ = [
    "APPLICATION_ID",
    "FILTERS",
    "SCHEMA_VERSION",
    "TABLES",
    "BatchMeasurement",
    "Failure",
    "ModelSummary",
    "RunRecord",
    "Store",
    "as_records",
    "config_hash",
]
