"""joulebench's dataset: the importer of the published reference data and the merged dataset view.

``from joulebench.data import load_dataset``; pandas is imported only when the data is loaded.
"""

from joulebench.data.dataset import Dataset, gpu_short_name, load_dataset, summaries_to_energy
from joulebench.data.importer import TESTSETS, import_reference

__all__ = ["TESTSETS", "Dataset", "gpu_short_name", "import_reference", "load_dataset", "summaries_to_energy"]
