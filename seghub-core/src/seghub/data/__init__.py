"""Data that seghub ships for demos and tests: the synthetic shapes (:mod:`seghub.data.shapes`).

Imports no torch until a module below is used.
"""
