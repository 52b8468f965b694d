"""The package version, in a module of its own so that any part of modelhub can read it without importing the
package front door (``modelhub/__init__.py``) and whatever it may load."""

__version__ = "0.1.0"
