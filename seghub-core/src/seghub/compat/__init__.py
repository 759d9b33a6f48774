"""Bridges to other libraries' models and checkpoints (``seghub.compat.smp``)."""
