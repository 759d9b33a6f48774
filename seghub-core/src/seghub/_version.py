"""seghub-core's version (one place, read by the package and by saved configs)."""

__version__ = "0.1.0"
