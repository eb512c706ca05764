"""Records in: CSV, JSON Lines and Parquet readers.

``read(paths)`` streams the rows of files as ``session.process`` accepts them.
"""

from sfa_rules.records.readers import read

__all__ = ["read"]
