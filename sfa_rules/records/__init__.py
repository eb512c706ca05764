"""Records in: CSV, JSON Lines and Parquet readers.

``read(paths)`` streams the rows of files as ``session.process`` accepts them;
``imports.Imports.of(engine).read(paths)`` reads them through a configuration's imports.
"""

from sfa_rules.records import imports
from sfa_rules.records.readers import read

__all__ = ["imports", "read"]
