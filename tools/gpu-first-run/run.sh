#!/usr/bin/env bash
# gtnbench on a GPU for the first time, as one budgeted command (about nine minutes on one H100/H200).
#
# On the GPU machine, from the root of a checkout that carries .carry/ (tools/gpu-first-run/prepare.sh):
#     OUT=<folder> bash tools/gpu-first-run/run.sh
# Rehearsal on a CPU (tiny sizes, the smoke scale, this machine's own pydantic and data; 3-4 minutes):
#     DRY=1 DEVICE=cpu BUDGET=540 OUT=/tmp/gpu-first-run PY=python bash tools/gpu-first-run/run.sh
# SKIP="name ..." skips phases by name (see the list below).
#
# Every phase is its own process under `timeout -s INT` at min(its limit, the time left less what the
# later phases are promised), so a phase that hangs, poisons the CUDA context or runs out of memory
# costs only its own slice. Each phase writes its results into $OUT as it goes (the gtnbench commands
# write their JSON files incrementally): a cut-off run still brings back everything measured up to the
# cut (plan saves its costs after each measured unit). $OUT ends with summary.json and summary.md (tools/gpu-first-run/summarize.py), log.txt,
# phases.jsonl, gpu_util.csv (nvidia-smi, every 0.5 s) and runs.tar.gz (the suite run, without .pt files).
set -u
T0=$(date +%s)
BUDGET=${BUDGET:-540}
DEADLINE=$((T0 + BUDGET))
DEVICE=${DEVICE:-cuda}
DRY=${DRY:-0}
OUT=${OUT:?OUT must name the results folder}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=${PY:-python3}
SCRATCH=${SCRATCH:-/tmp/gtnbench-first-run}
cd "$ROOT"
rm -rf "$SCRATCH"
mkdir -p "$OUT" "$SCRATCH/runs"
OUT=$(cd "$OUT" && pwd)
exec > >(tee -a "$OUT/log.txt") 2>&1
TEE=$!
export PY OUT SCRATCH

left() { echo $((DEADLINE - $(date +%s))); }
stamp() { echo "[t=$(($(date +%s) - T0))s, $(left)s left]"; }

# phase NAME LIMIT RESERVE CMD...: run CMD with min(LIMIT, time left - RESERVE) seconds, then SIGINT (KILL 10 s later)
phase() {
  local name=$1 limit=$2 reserve=$3
  shift 3
  local avail=$(($(left) - reserve))
  local seconds=$((limit < avail ? limit : avail))
  if [[ " ${SKIP:-} " == *" $name "* ]] || ((seconds < 10)); then
    echo "== skip $name $(stamp)"
    echo "{\"phase\": \"$name\", \"skipped\": true}" >> "$OUT/phases.jsonl"
    return 0
  fi
  echo "== $name: up to ${seconds}s $(stamp)"
  local start=$(date +%s.%N)
  timeout --signal=INT --kill-after=10 "$seconds" "$@"
  local rc=$?
  local end=$(date +%s.%N)
  echo "== $name: rc=$rc $(stamp)"
  echo "{\"phase\": \"$name\", \"rc\": $rc, \"start\": $start, \"end\": $end, \"limit\": $seconds}" >> "$OUT/phases.jsonl"
}

pack() {
  tar czf "$OUT/runs.tar.gz.part" --exclude='*.pt' -C "$SCRATCH" runs && mv "$OUT/runs.tar.gz.part" "$OUT/runs.tar.gz"
}

# -- setup: pydantic from the carried wheels when the image lacks it, MNIST from its carried gzip files ---------
echo "== setup $(stamp) on $(hostname); gtnbench $(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo "${GTNBENCH_COMMIT:-unknown commit}")"
export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}
if ! $PY -c "import pydantic" 2>/dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --target "$SCRATCH/site" .carry/whl/*.whl \
    || echo "!! the carried wheels did not install: run, plan and report will not import"
  export PYTHONPATH=$ROOT:$SCRATCH/site
fi
if [ "$DRY" = 1 ] && [ -n "${GTNBENCH_DATA:-}" ]; then
  echo "rehearsal: data from $GTNBENCH_DATA"
else
  export GTNBENCH_DATA=$SCRATCH/data
  mkdir -p "$GTNBENCH_DATA/MNIST/raw"
  for f in .carry/data/MNIST/raw/*.gz; do gunzip -c "$f" > "$GTNBENCH_DATA/MNIST/raw/$(basename "$f" .gz)"; done
fi
export GTNBENCH_CACHE=$SCRATCH/cache PYTHONUNBUFFERED=1 COLUMNS=160  # rich tables as wide as the log allows
G=("$PY" -m gtnbench)
"${G[@]}" data verify 2>&1 | tail -6
if command -v nvidia-smi > /dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit --format=csv
  (while sleep 0.5; do
     echo "$(date +%s.%N),$(nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader,nounits)"
   done > "$OUT/gpu_util.csv") &
  SAMPLER=$!
  trap 'kill $SAMPLER 2>/dev/null' EXIT
fi

# Sizes: the goals' own on a GPU; tiny ones in a rehearsal (which checks the orchestration, not speed).
if [ "$DRY" = 1 ]; then
  GTN=(--steps 2 --repeats 1); LEARNER=(--steps 4 --repeats 1); NB201=(--steps 4 --channels 4 --cells 1 --archs 2 --repeats 1)
  GRID=(--steps 4 --configurations 2 --repeats 1); CIFAR=(--steps 4 --block-size 2 --repeats 1); SCALE=smoke
else
  GTN=(--repeats 5); LEARNER=(--repeats 5); NB201=(--steps 128 --channels 16 --cells 5 --archs 8 --repeats 1)
  GRID=(--configurations 8 --repeats 3); CIFAR=(--steps 128 --block-size 16 --repeats 1); SCALE=quick
fi
RUN_SUITE=${RUN_SUITE:-mnist-fewstep}
# the claim suites first, the small-set teachers (DC's calibration is the slowest) last
PLAN_SUITES=${PLAN_SUITES:-"mnist-fewstep cifar10-fewstep nb201-rankcorr nb201-gtn macro-rankcorr mnist-curriculum mnist-weightnorm mnist-transfer mnist-teachers cifar10-teachers nb201-teachers"}

# -- 1. can the device be trusted: precision read back and probed, meta-gradient and training vs float64, syncs -
phase doctor 75 440 "${G[@]}" doctor --device "$DEVICE" --out "$OUT/doctor_ieee.json"
# -- 2. the three speed goals: 32 learner steps on a GTN <= 20 ms, an MNIST outer iteration at T=32 <= 60 ms,
#       >= 4 NAS-Bench-201 cells per second (128 steps, C=16, N=5), one at a time and vmapped together -------
phase bench-gtn 60 380 "${G[@]}" bench gtn --device "$DEVICE" "${GTN[@]}" --out "$OUT/bench_gtn.json"
phase bench-nb201 80 320 "${G[@]}" bench nb201 --device "$DEVICE" "${NB201[@]}" --out "$OUT/bench_nb201.json"
# -- 3. the levers: CUDA graphs of the plain loop (bench and parity tests), TF32 (accuracy and speed) ----------
phase bench-learner 30 300 "${G[@]}" bench learner --device "$DEVICE" "${LEARNER[@]}" --out "$OUT/bench_learner.json"
if [[ $DEVICE == cuda* ]]; then
  phase bench-learner-graphs 30 280 "${G[@]}" bench learner --device "$DEVICE" --cuda-graphs "${LEARNER[@]}" \
    --out "$OUT/bench_learner_graphs.json"
fi
phase cuda-tests 60 240 bash -c '"$PY" -m pytest -q -p no:cacheprovider tests/test_fast_paths.py tests/test_device.py \
  tests/test_doctor.py tests/test_audit.py > "$OUT/pytest_cuda.txt" 2>&1; rc=$?; tail -5 "$OUT/pytest_cuda.txt"; exit $rc'
phase doctor-tf32 45 215 "${G[@]}" doctor --device "$DEVICE" --precision tf32 --out "$OUT/doctor_tf32.json"
# -- 4. what each suite's quick scale costs here (the costs file lets any machine plan for this GPU) -----------
plan_all() {  # one suite after another, sharing the costs measured so far; stops at the first interruption
  local costs=() rc
  for suite in $PLAN_SUITES; do
    "${G[@]}" plan "$suite" --scale "$SCALE" --device "$DEVICE" "${costs[@]}" --save-costs "$OUT/costs.json" \
      --out "$OUT/plan_$suite.json" > "$OUT/plan_$suite.txt" 2>&1
    rc=$?
    tail -3 "$OUT/plan_$suite.txt"
    ((rc < 128)) || return $rc  # interrupted (the phase's time is up); an error moves on to the next suite
    [ -f "$OUT/costs.json" ] && costs=(--costs "$OUT/costs.json")
  done
}
export PLAN_SUITES SCALE DEVICE
phase plan 90 150 bash -c "$(declare -f plan_all)"'; G=("$PY" -m gtnbench); plan_all'
# -- 5. a whole suite at its quick scale, stopped cleanly by --budget when it would not fit --------------------
RUN_SECONDS=$(($(left) - 75))
COSTS=(); [ -f "$OUT/costs.json" ] && COSTS=(--costs "$OUT/costs.json")
if ((RUN_SECONDS > 30)); then
  phase run-suite $((RUN_SECONDS + 15)) 55 "${G[@]}" run "$RUN_SUITE" --scale "$SCALE" --device "$DEVICE" \
    --budget "${RUN_SECONDS}s" "${COSTS[@]}" --out "$SCRATCH/runs/$RUN_SUITE-$SCALE"
fi
if [ -f "$SCRATCH/runs/$RUN_SUITE-$SCALE/manifest.json" ]; then
  phase report 25 30 "${G[@]}" report "$SCRATCH/runs/$RUN_SUITE-$SCALE" --quiet
  export RUN_DIR=$SCRATCH/runs/$RUN_SUITE-$SCALE
  phase check 10 20 bash -c '"$PY" -m gtnbench check "$RUN_DIR" > "$RUN_DIR/check.txt" 2>&1; rc=$?
    tail -20 "$RUN_DIR/check.txt"; exit $rc'
fi
pack
# -- 6. with what is left: TF32's speed, the CIFAR-10 outer iteration at the paper's T=128, the vmapped grid ---
phase bench-gtn-tf32 40 15 "${G[@]}" bench gtn --device "$DEVICE" --precision tf32 "${GTN[@]}" --out "$OUT/bench_gtn_tf32.json"
phase bench-gtn-cifar 40 12 "${G[@]}" bench gtn --device "$DEVICE" --dataset cifar10 "${CIFAR[@]}" --out "$OUT/bench_gtn_cifar.json"
phase bench-grid 30 10 "${G[@]}" bench grid --device "$DEVICE" "${GRID[@]}" --out "$OUT/bench_grid.json"

echo "== summary $(stamp)"
[ -n "${SAMPLER:-}" ] && kill "$SAMPLER" 2>/dev/null
$PY "$HERE/summarize.py" "$OUT" "$SCRATCH/runs" || echo "!! summary failed"
ls -la "$OUT"
echo "== done $(stamp)"
exec >&- 2>&-
wait "$TEE"  # the log's last lines
