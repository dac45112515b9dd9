"""Applications on top of the engine and the report writers: predict, doctor, sweep, perf."""
