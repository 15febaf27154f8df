"""The version of reprokit.

>>> __version__.count(".") >= 1
True
"""

__version__ = "0.1.0"
