"""A stand-in for a third-party package: the tests that use it list its
directory in DJPERF["LIBRARY_PATHS"], so djperf treats it as a library."""
