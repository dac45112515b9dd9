"""The engine: run configuration, features, classifiers, evaluation, records, work keys, the runner."""
