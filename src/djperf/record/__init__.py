"""Recording: the hooks, the events they produce and the capture scopes.

(Named ``record`` rather than ``capture`` so that the subpackage never
shadows the public ``djperf.capture()`` function.)
"""
