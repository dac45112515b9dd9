"""Everything that turns run records into tables, comparisons, plots and a report.

Reads ``results/runs/*.json`` (and the ``.preds.npz`` beside them); never recomputes features.
"""
