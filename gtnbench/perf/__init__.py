"""Measuring a device: timings of the hot loops (bench), what they launch (audit), a self-test (doctor), and the
per-unit costs and work model that price a suite before it runs (costs, plan). Timings live here, never in
tests."""
