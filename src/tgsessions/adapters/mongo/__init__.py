"""MongoDB Extended JSON (what ``mongoexport`` writes): a streaming reader and a writer."""

from tgsessions.adapters.mongo.extended_json import ExtendedJsonReader, ExtendedJsonWriter

__all__ = ["ExtendedJsonReader", "ExtendedJsonWriter"]
