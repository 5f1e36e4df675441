"""Data sets as device-resident tensors (datasets), their raw readers (sources), checksums and fetching."""
