"""Ground truth: stand-alone training protocol, runs, results files and the benchmark."""
