#!/usr/bin/env bash
# Regenerate every committed run under results/ from a clean checkout: the smoke scale of every bundled suite,
# the CI reference, and the batch-norm protocol comparison; then the index. One torch thread per process (the
# default); the code version each run records is the commit checked out, which must have no uncommitted
# changes under gtnbench/, suites/ or pyproject.toml (validate flags a dirty one).
# Usage: GTNBENCH_DATA=../shared/data bash tools/regenerate-results/run.sh [SUITE...]
set -euo pipefail
cd "$(dirname "$0")/../.."
version=$(python -c "from gtnbench.environment import code_version; print(code_version())")
case "$version" in *.dirty|*unknown*) echo "refusing: code version $version is not a clean commit" >&2; exit 2;; esac
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(mnist-fewstep mnist-curriculum mnist-weightnorm mnist-transfer cifar10-fewstep \
    nb201-rankcorr nb201-gtn macro-rankcorr mnist-teachers cifar10-teachers nb201-teachers bn-protocols reference)
for suite in "${suites[@]}"; do
    case "$suite" in
        reference)
            rm -rf /tmp/gtnbench-reference
            gtnbench run smoke --device cpu --out /tmp/gtnbench-reference
            cp /tmp/gtnbench-reference/manifest.json /tmp/gtnbench-reference/records.jsonl results/reference/smoke/
            continue;;
        bn-protocols) source=results/cpu/bn-protocols.toml; out=results/cpu/bn-protocols-run;;
        *) source=$suite; out=results/cpu/$suite-smoke-run;;
    esac
    rm -rf "$out"
    gtnbench run "$source" --scale smoke --device cpu --out "$out"
    gtnbench report "$out" --quiet
    gtnbench check "$out" > "$out/report/check.txt" || true
done
gtnbench index results/
