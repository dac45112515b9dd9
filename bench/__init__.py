"""zsbench engine: models, feature cache, protocol runners, metrics and run records."""
