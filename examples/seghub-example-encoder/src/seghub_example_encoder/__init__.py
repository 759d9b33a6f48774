"""An example seghub plugin: encoder ``mobilenet_lite`` and decoder ``skipadd``.

Importing this package imports no torch; the networks live in :mod:`.mobilenet` and
:mod:`.skipadd`, which seghub imports when a model uses them.
"""

__version__ = "0.1.0"
