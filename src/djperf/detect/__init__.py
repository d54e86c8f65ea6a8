"""Detection: pure functions from a Recording to Findings, one rule per module (rules/)."""
