"""Reading real exports (SPEC 1.4): files, sources, mapping files and cell values.

- ``files``: bytes -> records with physical line numbers (CSV in UTF-8/UTF-16/Windows-1252, any of
  ``, ; tab |``; XLSX first sheet or a named one).
- ``values``: cells in the import's date order and decimal mark -> canonical SPEC text.
- ``layouts``: ``Schema`` (what an importer reads), ``Source`` (one vendor's export), ``Mapping``
  (the user's JSON file) and header detection.
- ``reader``: ``TableReader`` puts them together and yields ``core.csvio.Row`` objects.

Every importer (agreements, time entries, payments) reads through ``TableReader`` with its own
``SourceSet``; the sources themselves live with their app (``timesheets/sources.py``...).
"""

from core.reading.files import FileOptions, describe_file, sha256_of
from core.reading.layouts import Mapping, MappingError, Schema, Source, parse_mapping
from core.reading.reader import ReadOptions, SourceSet, TableReader, UnknownLayout

__all__ = [
    "FileOptions",
    "Mapping",
    "MappingError",
    "ReadOptions",
    "Schema",
    "Source",
    "SourceSet",
    "TableReader",
    "UnknownLayout",
    "describe_file",
    "parse_mapping",
    "sha256_of",
]
