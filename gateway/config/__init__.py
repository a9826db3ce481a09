"""The configuration: TOML, validated against one schema, with line numbers in every problem."""
from sitegate.config.loader import Config, Section, load, loads, validate
from sitegate.config.schema import Key, Table

__all__ = ["Config", "Key", "Section", "Table", "load", "loads", "validate"]
