"""The release number: a floor of its own, so that the package's face (`__init__.py`) stands above every module."""

__version__ = "0.1.0"
