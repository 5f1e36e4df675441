"""The engine: a suite's trials into a run directory. batch.py runs one batch of trials in a process and turns
outcomes into records; executors.py (in-process, Ray) and workers.py (local worker processes) hand batches
out; runner.py opens, resumes and closes a run and writes its manifest; budget.py is the clock a run must fit;
merge.py joins shards. It knows nothing of who reads its output."""
