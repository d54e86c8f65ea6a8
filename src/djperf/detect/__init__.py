"""Detectors: pure functions from a Recording to Findings, one module per rule family."""
