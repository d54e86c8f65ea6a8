"""The runtime rules: one module per rule id (``n_plus_one.py`` is ``n-plus-one``).

Modules whose name starts with an underscore are helpers, not rules; the
registry imports every other module here (djperf.detect.registry).
"""
