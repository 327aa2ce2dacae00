#!/usr/bin/env bash
# One device call of the H200 work, in parallel across the machine's GPUs, under a deadline.
#
#   bash benchmarks/h200_session.sh checks    # sweep issue + Ray issue checks, the dataset on the spare GPUs
#   bash benchmarks/h200_session.sh dataset   # the H200 dataset sweep on every GPU (resumes)
#   bash benchmarks/h200_session.sh search-cost  # on GPU 0: the meter's GPU test and a --cooldown 45C check,
#                                                # then paper vs plateau with the default windows, two
#                                                # rounds in alternating order (about 17 minutes on resnet50,
#                                                # detached: it outlives this call), the dataset on
#                                                # the other GPUs; a following `dataset` call on the warm
#                                                # machine takes GPU 0 back once it is done
#   DEADLINE=1600 bash benchmarks/h200_session.sh dataset-long  # the dataset sweep as ONE detached run for the
#                                                # whole lease; the following calls on the warm machine, the
#                                                # same command, wait for it (WAIT s each, default 575) and
#                                                # each brings back a snapshot of the store; MEMPROBE=1
#                                                # first runs benchmarks/memory_limits.py (about a minute);
#                                                # GPUTEST='-k pinned' first runs those GPU-marked tests;
#                                                # PINPROBE=1 first runs benchmarks/pinned_memory_probe.py
#                                                # (about 4 minutes: take it off DEADLINE)
#
# checks:  first P1 seconds, in parallel:
#            GPU 0:     three runs of resnet50.a1_in1k on torch-fp32 with the default protocol (the spread),
#            GPU 1:     the runtime smoke test, the GPU-marked tests, vgg16.tv_in1k on compile-fp16 with the
#                       sweep panel's flags (benchmarks/panel_flags.sh),
#            GPUs 2, 3: the dataset sweep;
#          then, all GPUs: benchmarks/multi_gpu_throughput.py (models per hour on 1, 2 and 4 GPUs).
# dataset: the panel of data/h200/README.md, torch-fp32 and compile-fp16, default protocol, every GPU; results
#          the current batch search would have continued (measured under an older rule) are redone (--redo-stale).
# dataset-long: the same sweep, started once (setsid: it outlives the call) with DEADLINE counted from its start,
#          so one deadline spans several 10-minute calls: no call boundary leaves GPUs idle while the last models
#          of a call end, and a model that needs longer than one call can still finish. Each call waits until
#          the sweep ends or WAIT seconds pass, then copies a consistent snapshot of the store (SQLite's backup;
#          the sweep saves after every model). If the machine goes back between calls, the snapshot last
#          copied back holds everything saved until then.
#
# The dataset database lives outside the work tree ($JB_DB, default /root/jb/h200.db) so that a following
# call on the still-warm machine resumes it; on a fresh machine it is seeded from the repository's bundle
# (data/h200/dataset, imported with `joulebench import`); each call writes the store back as a bundle
# ($OUT/session/dataset/: copy its files over data/h200/dataset/).
# The sweep keeps the deadline itself (--deadline): models not expected to finish in time are left for the next
# call, and models still running at the deadline stop after their batch and are redone later.
# Everything comes back in $OUT/session.tar.gz.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=src PYTHONUNBUFFERED=1
MODE=${1:-dataset}
OUT=${OUT:-out}
W=$OUT/session
mkdir -p "$W"
DEADLINE=${DEADLINE:-540}
T0=$(date +%s)
left() { local l=$((DEADLINE - ($(date +%s) - T0))); [ "$l" -gt 5 ] && echo "$l" || echo 5; }
NG=$(nvidia-smi -L | wc -l)
echo "mode $MODE, GPUs: $NG, deadline ${DEADLINE}s$([ "$MODE" = dataset-long ] && echo " if this call starts the sweep")"
nvidia-smi >"$W/nvidia-smi-$MODE.txt" 2>&1

JB_DB=${JB_DB:-/root/jb/h200.db}
mkdir -p "$(dirname "$JB_DB")"
if [ ! -f "$JB_DB" ] && [ -f data/h200/dataset/manifest.json ]; then
  python3 -m joulebench import data/h200/dataset --db "$JB_DB" && echo "seeded $JB_DB from the repository's bundle"
fi
SC=$(dirname "$JB_DB")/search_cost  # the detached search-cost run's folder
running() { [ -f "$1/pid" ] && kill -0 "$(cat "$1/pid")" 2>/dev/null; }  # running DIR: DIR's detached job lives
detach() {  # detach DIR FUNCTION: run the exported FUNCTION in its own process session (it outlives this call)
  setsid bash -c "$2" </dev/null >/dev/null 2>&1 &
  echo $! >"$1/pid"
}
sc_running() { running "$SC"; }
python3 -m joulebench panel --setup H100:tensorrt-fp16 --names --distinct-first >"$W/order.txt"
echo "panel: $(wc -l <"$W/order.txt") configurations"

sweep() {  # sweep GPUS ORDER SECONDS KILL_GRACE: the resumable dataset sweep (stdout its --json, stderr its log)
  # --deadline starts only models expected to finish in time and stops the others at it; the SIGINT 20 s later
  # (then SIGKILL after the grace) is the safety net.
  # shellcheck disable=SC2046  # word splitting intended: ORDER holds one tag@size per line
  timeout -s INT -k "$4" "$(($3 + 20))" python3 -m joulebench measure $(cat "$2") \
    --runtime torch-fp32 --runtime compile-fp16 --meter nvml --gpus "$1" --db "$JB_DB" --timeout 25min --json \
    --redo-stale --deadline "$3s"
}
dataset() {  # dataset GPUS LOG SECONDS [KILL_GRACE]: the sweep in this call, ending within SECONDS
  sweep "$1" "$W/order.txt" "$3" "${4:-90}" >"$W/$2.json" 2>"$W/$2.err"
  echo "dataset on GPUs $1 ended with status $? after $(($(date +%s) - T0)) s"
}

if [ "$MODE" = checks ]; then
  source benchmarks/panel_flags.sh
  P1=${P1:-250}  # the first phase's share of the deadline; the throughput benchmark gets the rest
  until1() { local l=$((P1 - ($(date +%s) - T0))); [ "$l" -gt 5 ] && echo "$l" || echo 5; }
  repeats() {
    for i in 1 2 3; do
      timeout -s INT -k 30 "$(until1)" python3 -m joulebench measure resnet50.a1_in1k --runtime torch-fp32 \
        --meter nvml --gpus 0 --force --db "$W/repeat.db" --json >"$W/repeat_$i.json" 2>"$W/repeat_$i.err"
    done
  }
  checks1() {
    CUDA_VISIBLE_DEVICES=1 OUT=$W timeout 120 python3 benchmarks/gpu_runtimes_smoke.py >"$W/runtimes_smoke.txt" 2>&1
    CUDA_VISIBLE_DEVICES=1 timeout 100 python3 -m pytest -m gpu -q -p no:cacheprovider tests >"$W/gpu_tests.txt" 2>&1
    timeout -s INT -k 30 "$(until1)" python3 -m joulebench measure vgg16.tv_in1k "${COMPILED[@]}" "${COMMON[@]}" \
      --gpus 1 --db "$W/panel.db" >"$W/panel_vgg16_compile.json" 2>"$W/panel_vgg16_compile.err"
  }
  repeats &
  checks1 &
  [ "$NG" -ge 4 ] && dataset 2,3 dataset_checks "$(until1)" 60 &
  wait
  echo "first phase took $(($(date +%s) - T0)) s"
  OUT=$W timeout "$(left)" python3 benchmarks/multi_gpu_throughput.py \
    --models resnet18,mobilenetv3_small_100,efficientnet_b0,regnety_008,convnext_atto,vit_tiny_patch16_224,resnet34,mobilenetv2_100 \
    >"$W/multi_gpu_throughput.txt" 2>&1
  echo "throughput benchmark ended after $(($(date +%s) - T0)) s"
  for db in repeat panel; do
    for t in summaries measurements runs failures; do
      python3 -m joulebench export "$W/${db}_$t.csv" --table $t --db "$W/$db.db" >/dev/null 2>&1
    done
  done
elif [ "$MODE" = search-cost ]; then
  # The sweep issue's search-cost target with the default protocol (3 s warm-up, 10 s windows) on GPU 0, the
  # dataset on the others; SC_MODELS picks the models (default resnet50.a1_in1k). Two rounds of paper's search
  # to out-of-memory take longer than one call, so the benchmark runs in its own process session (it survives
  # the call's end) and writes outside $OUT; later calls copy what it has.
  # First, on the same GPU (about 2 minutes): the meter's GPU test (its temperature reading) and a short sweep
  # with --cooldown 45C, whose rows record each wait for the card to cool.
  rm -rf "$SC" && mkdir -p "$SC"
  gpu0_job() {
    timeout 120 python3 -m pytest -m gpu -q -p no:cacheprovider tests/test_meters_gpu.py >"$SC/gpu_meter_test.txt" 2>&1
    timeout -s INT -k 20 150 python3 -m joulebench measure resnet18.a1_in1k --runtime torch-fp16 --meter nvml \
      --cooldown 45C --warmup 1s --min-window 2s --max-batch 256 --db "$SC/cooldown.db" --json \
      >"$SC/cooldown.json" 2>"$SC/cooldown.err"
    python3 benchmarks/search_cost.py ${SC_MODELS:-resnet50.a1_in1k} --runtime torch-fp32 --meter nvml --quiet \
      --db "$SC/search_cost.db" >"$SC/search_cost.txt" 2>&1
  }
  export -f gpu0_job
  export SC SC_MODELS
  CUDA_VISIBLE_DEVICES=0 OUT=$SC detach "$SC" gpu0_job
  [ "$NG" -ge 2 ] && dataset "$(seq -s, 1 $((NG - 1)))" dataset_all "$(left)"
elif [ "$MODE" = dataset-long ]; then
  L=$(dirname "$JB_DB")/long  # the detached sweep's own copy of the code, its order and its output
  if [ ! -f "$L/pid" ] && [ "${MEMPROBE:-0}" = 1 ]; then  # before the sweep, which would share the GPU with it
    timeout 150 python3 benchmarks/memory_limits.py --timeout 120 >"$W/memory_limits.txt" 2>&1
    tail -n 4 "$W/memory_limits.txt"
  fi
  if [ ! -f "$L/pid" ] && [ "${PINPROBE:-0}" = 1 ]; then
    timeout 420 python3 benchmarks/pinned_memory_probe.py --timeout 400 >"$W/pinned_memory_probe.txt" 2>&1
    tail -n 8 "$W/pinned_memory_probe.txt"
  fi
  if [ ! -f "$L/pid" ] && [ -n "${GPUTEST:-}" ]; then  # word splitting intended: GPUTEST holds pytest options
    # shellcheck disable=SC2086
    t=$((540 - ($(date +%s) - T0)))  # leave this call time to start the sweep after the tests
    [ "$t" -gt 240 ] && t=240
    timeout "$((t > 30 ? t : 30))" python3 -m pytest -m gpu -q -s -p no:cacheprovider $GPUTEST tests \
      >"$W/gpu_tests.txt" 2>&1
    tail -n 6 "$W/gpu_tests.txt"
  fi
  if [ ! -f "$L/pid" ]; then
    # a copy of the code: the next call re-sends the work tree, and the sweep starts a worker per model from it
    rm -rf "$L" && mkdir -p "$L" && cp -r src "$L/src" && cp "$W/order.txt" "$L/order.txt"
    long_job() {
      cd "$L" || exit
      sweep "$GPUS" order.txt "$DEADLINE" 60 >dataset_all.json 2>dataset_all.err
      echo $? >rc
    }
    export -f long_job sweep
    export L JB_DB DEADLINE GPUS="$(seq -s, 0 $((NG - 1)))" PYTHONPATH="$L/src"
    detach "$L" long_job
    date +%s >"$L/t0"
    echo "$DEADLINE" >"$L/deadline"
    echo "started the detached sweep on GPUs $GPUS, deadline ${DEADLINE}s"
  fi
  WAIT=${WAIT:-575}
  while running "$L" && [ $(($(date +%s) - T0)) -lt "$WAIT" ]; do sleep 2; done
  since=$(($(date +%s) - $(cat "$L/t0"))) && echo "(the detached sweep's deadline is $(cat "$L/deadline") s from its start)"
  if running "$L"; then
    echo "the detached sweep is still running, ${since} s after its start"
  else
    echo "the detached sweep ended with status $(cat "$L/rc" 2>/dev/null || echo '?') by ${since} s after its start"
  fi
  cp "$L/dataset_all.json" "$L/dataset_all.err" "$W/" 2>/dev/null
  grep -v "│" "$W/dataset_all.err" | tail -n 8
else
  gpus=$(seq -s, 0 $((NG - 1)))
  if sc_running; then  # a detached search-cost run holds GPU 0: wait a little for it, else leave GPU 0 to it
    for _ in $(seq "${SC_WAIT:-60}"); do sc_running || break; sleep 1; done
    sc_running && gpus=$(seq -s, 1 $((NG - 1))) && echo "search-cost still running on GPU 0"
  fi
  dataset "$gpus" dataset_all "$(left)"
fi
[ -d "$SC" ] && cp -r "$SC" "$W/" && { sc_running && echo "search-cost: running" || tail -n 4 "$SC/search_cost.txt"; }
echo "phases took $(($(date +%s) - T0)) s"
python3 -m joulebench results --db "$JB_DB" >"$W/dataset_results.txt" 2>&1
python3 -m joulebench results --db "$JB_DB" --failures >"$W/dataset_failures.txt" 2>&1
# SQLite's backup: a consistent copy also while the detached sweep writes (the store is in WAL mode)
python3 -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).backup(sqlite3.connect(sys.argv[2]))' "$JB_DB" "$W/h200.db"
python3 -m joulebench export --bundle "$W/dataset/" --db "$W/h200.db"  # what data/h200/dataset/ holds
tar czf "$OUT/session.tar.gz" -C "$OUT" session
tail -n 25 "$W/dataset_results.txt"
[ -f "$W/multi_gpu_throughput.txt" ] && tail -n 12 "$W/multi_gpu_throughput.txt"
[ -f "$W/gpu_tests.txt" ] && tail -n 5 "$W/gpu_tests.txt"
[ -f "$W/runtimes_smoke.txt" ] && tail -n 26 "$W/runtimes_smoke.txt"
ls "$W"
