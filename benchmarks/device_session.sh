#!/usr/bin/env bash
# Everything the issues ask of the GPU machine, in one call, in parallel across its GPUs, under a deadline.
#
#   bash benchmarks/device_session.sh        # on the GPU machine, from the repository root; results in $OUT
#
# GPU 0: meter check (counter vs sampled, aligned vs unaligned 1 s windows, `joulebench meter`, idle), the
#        runtime smoke test and the GPU-marked tests.
# GPU 1: the issue-3 panel on torch-fp32, then two more runs of resnet50.a1_in1k for the spread.
# GPU 2: the issue-3 panel on compile-fp16.           (with 2 GPUs: after torch-fp32 on GPU 1)
# GPU 3: the search-cost benchmark (paper vs plateau). (with fewer GPUs: skipped)
# Each phase has its own timeout so partial results still come back; all output is packed into one tarball.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=src PYTHONUNBUFFERED=1
OUT=${OUT:-out}
W=$OUT/session
mkdir -p "$W"
DEADLINE=${DEADLINE:-530}
T0=$(date +%s)
left() { local l=$((DEADLINE - ($(date +%s) - T0))); [ "$l" -gt 5 ] && echo "$l" || echo 5; }
NG=$(nvidia-smi -L | wc -l)
echo "GPUs: $NG"
nvidia-smi >"$W/nvidia-smi.txt" 2>&1
nvidia-smi -q -d POWER,CLOCK,TEMPERATURE >"$W/nvidia-smi-q.txt" 2>&1
python3 -m joulebench info --json >"$W/info.json" 2>"$W/info.err"
python3 -m joulebench info >"$W/info.txt" 2>&1

source benchmarks/panel_flags.sh
DB=$W/panel.db

gpu0() {
  export CUDA_VISIBLE_DEVICES=0 OUT=$W
  timeout 200 python3 benchmarks/meter_check.py >"$W/meter_check.txt" 2>&1
  timeout 30 python3 -m joulebench meter --json -- sleep 3 >"$W/meter_idle.json" 2>&1
  timeout 150 python3 benchmarks/gpu_runtimes_smoke.py >"$W/runtimes_smoke.txt" 2>&1
  timeout "$(left)" python3 -m pytest -m gpu -q -p no:cacheprovider tests >"$W/gpu_tests.txt" 2>&1
}
eager() {
  local g=$1
  timeout "$(left)" python3 -m joulebench measure "${MODELS[@]}" "${EAGER[@]}" "${COMMON[@]}" --gpus "$g" --db "$DB" \
    >"$W/panel_torch_fp32.json" 2>"$W/panel_torch_fp32.err"
  for i in 2 3; do
    timeout "$(left)" python3 -m joulebench measure resnet50.a1_in1k "${EAGER[@]}" "${COMMON[@]}" --gpus "$g" --force \
      --db "$DB" >"$W/panel_spread_$i.json" 2>"$W/panel_spread_$i.err"
  done
}
compiled() {
  local g=$1
  timeout "$(left)" python3 -m joulebench measure "${MODELS[@]}" "${COMPILED[@]}" "${COMMON[@]}" --gpus "$g" \
    --db "$DB" >"$W/panel_compile_fp16.json" 2>"$W/panel_compile_fp16.err"
}
search() {
  CUDA_VISIBLE_DEVICES=$1 OUT=$W timeout "$(left)" python3 benchmarks/search_cost.py resnet50.a1_in1k \
    --runtime torch-fp32 --meter nvml --warmup 1s --min-window 2s --idle 1s --db "$W/search_cost.db" \
    >"$W/search_cost.txt" 2>&1
}

gpu0 &
if [ "$NG" -ge 4 ]; then
  eager 1 & compiled 2 & search 3 &
elif [ "$NG" -ge 2 ]; then
  (eager 1; compiled 1) &
else
  wait; eager 0; compiled 0
fi
wait
echo "measurement phases took $(($(date +%s) - T0)) s"
python3 -m joulebench results --db "$DB" >"$W/panel_results.txt" 2>&1
python3 -m joulebench results --db "$DB" --failures >"$W/panel_failures.txt" 2>&1
python3 -m joulebench export "$W/panel_summaries.csv" --db "$DB" >/dev/null 2>&1
python3 -m joulebench export "$W/panel_measurements.csv" --table measurements --db "$DB" >/dev/null 2>&1
python3 -m joulebench export "$W/panel_runs.csv" --table runs --db "$DB" >/dev/null 2>&1
tar czf "$OUT/session.tar.gz" -C "$OUT" session
cat "$W/panel_results.txt" "$W/meter_check.txt" | tail -c 6000
