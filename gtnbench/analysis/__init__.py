"""Records in, numbers out: pure functions of run directories' records (no torch at import).

- records.py: loading runs, the latest record of every trial, cells of seeds per method and budget;
- frames.py: the long-format pandas table (`gtnbench.load_results`, `load_curves`, `load_trials`);
- rankcorr.py: NAS proxies, their rank correlations with the ground truth, speed-ups and search curves;
- intervals.py: t, Welch, censored-ratio and crossing intervals over a handful of seeds;
- comparison.py: run against run (`gtnbench compare`);
- regression.py: a run against a reference within tolerances, and a suite's expectations;
- validate.py: what a run directory must hold before its numbers are trusted.
"""
