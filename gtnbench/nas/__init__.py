"""NAS-Bench-201: the ground-truth table, the official-file importer, training-free proxies and search."""
