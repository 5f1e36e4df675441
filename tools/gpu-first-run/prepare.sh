#!/usr/bin/env bash
# Fill the git-ignored .carry/ of this checkout with what a bare GPU machine lacks (the device tool's
# image has torch, torchvision, numpy, scipy, pandas, matplotlib, rich and pytest, but no pydantic,
# no package registry and no data):
#   .carry/whl/   pydantic and its own needs, at this venv's versions, for the image's Python (PY_VERSION)
#   .carry/data/  MNIST's four IDX files, gzipped (11.6 MB); CIFAR-10 and NAS-Bench-201 benches use random images
# Run from anywhere inside the checkout, with GTNBENCH_DATA naming the data folder:
#   GTNBENCH_DATA=../shared/data bash tools/gpu-first-run/prepare.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
SRC=${GTNBENCH_DATA:?set GTNBENCH_DATA to the data folder that holds MNIST/raw}
PY_VERSION=${PY_VERSION:-3.12}
git check-ignore -q .carry/ || { echo "prepare.sh: .carry/ is not git-ignored here; refusing to fill it" >&2; exit 1; }
rm -rf .carry/whl .carry/data
mkdir -p .carry/whl .carry/data/MNIST/raw
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  [ -f "$SRC/MNIST/raw/$f" ] || { echo "prepare.sh: $SRC/MNIST/raw/$f is missing (gtnbench data fetch mnist)" >&2; exit 1; }
  gzip -6 -c "$SRC/MNIST/raw/$f" > ".carry/data/MNIST/raw/$f.gz"
done
PINS=$(python -c 'import importlib.metadata as m
print(" ".join(f"{p}=={m.version(p)}" for p in ("pydantic", "pydantic-core", "annotated-types", "typing-inspection",
                                                 "typing-extensions")))')
python -m pip download -q --no-deps --only-binary=:all: --python-version "$PY_VERSION" --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .carry/whl $PINS
echo "carry: $(du -sh .carry | cut -f1) ($PINS); tracked tree: $(git ls-files -z | du -ch --files0-from=- | tail -1 | cut -f1)"
echo "both travel together and must stay under 64 MiB"
