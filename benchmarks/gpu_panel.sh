#!/usr/bin/env bash
# The issue's H200 panel in about 8 minutes of GPU time. Run from the repository root on the GPU machine:
#
#     bash benchmarks/gpu_panel.sh            # results in $OUT/gpu_panel.db (or ./gpu_panel.db)
#
# Six models x {torch-fp32, compile-fp16}, plus resnet50.a1_in1k on torch-fp32 twice more for the spread.
#
# Why these flags (the defaults -- 3 s warm-up, 10 s windows, search from batch 1 -- cost several minutes per
# model and runtime; this panel has ~8 minutes for 14 of them):
#   --warmup 1s --min-window 2s   full windows of 2 s: energy per image comes from the span between counter
#                                 updates seen while the GPU is busy, so the ~100 ms counter period
#                                 (shared/notes/h200-meter.md) costs far less than on unaligned windows;
#                                 ci95_rel in each row says how precise each one was.
#   scouting windows              0.2 s (10% of the window), stretched until two counter updates are seen.
#   --idle 1s                     idle baseline per model (the card idles near 125 W after a load, per the notes).
#   torch-fp32: --start-batch 16  batches 1-8 are far from the optimum on an H200 (batch 1 is still measured
#                                 once for the summary); eager launches cost nothing to prepare.
#   compile-fp16: --start-batch 512 --max-batch 1024
#                                 every batch size is a fresh torch.compile, 9-15 s each (notes), which
#                                 dominates: this allows 512, 1024, the midpoint 768 and batch 1, four compiles
#                                 per model. A summary whose optimal batch is 1024 hit the cap: its true optimum
#                                 may lie higher (mobilenetv4 most likely), re-measure it without the cap.
#   --timeout 4min                a model that hangs cannot eat the budget.
# The GPU-seconds each model really took are in the summaries (gpu_seconds); the script prints the total.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="src${PYTHONPATH:+:$PYTHONPATH}"
PY=${PYTHON:-python3}
DIR=${OUT:-.}
mkdir -p "$DIR"
DB=${1:-$DIR/gpu_panel.db}

source benchmarks/panel_flags.sh

t0=$(date +%s)
"$PY" -m joulebench measure "${MODELS[@]}" "${EAGER[@]}" "${COMMON[@]}" --db "$DB" > "$DIR/panel_torch_fp32.json"
t1=$(date +%s); echo "torch-fp32 panel: $((t1 - t0)) s"
"$PY" -m joulebench measure "${MODELS[@]}" "${COMPILED[@]}" "${COMMON[@]}" --db "$DB" > "$DIR/panel_compile_fp16.json"
t2=$(date +%s); echo "compile-fp16 panel: $((t2 - t1)) s"
for i in 2 3; do  # the first resnet50 torch-fp32 measurement above is repeat 1
  "$PY" -m joulebench measure resnet50.a1_in1k "${EAGER[@]}" "${COMMON[@]}" --force --db "$DB" > "$DIR/panel_spread_$i.json"
done
t3=$(date +%s); echo "spread repeats: $((t3 - t2)) s; total: $((t3 - t0)) s"

"$PY" -m joulebench results --db "$DB" || true
"$PY" - "$DB" <<'EOF'
import sqlite3, statistics, sys
con = sqlite3.connect(sys.argv[1])
rows = con.execute("SELECT model, runtime, energy_per_image_j, gpu_seconds, optimal_batch FROM summaries WHERE status='ok'").fetchall()
print(f"GPU-seconds in summaries: {sum(r[3] or 0 for r in rows):.0f}")
spread = [r[2] for r in rows if r[0] == "resnet50.a1_in1k" and r[1] == "torch-fp32"]
if len(spread) > 1:
    m = statistics.mean(spread)
    print(f"resnet50.a1_in1k torch-fp32 over {len(spread)} runs: {m * 1e3:.2f} mJ/img, "
          f"spread (max-min)/mean {(max(spread) - min(spread)) / m:.2%}, batches {[r[4] for r in rows if r[0] == 'resnet50.a1_in1k' and r[1] == 'torch-fp32']}")
capped = [r[0] for r in rows if r[1] == "compile-fp16" and r[4] == 1024]
if capped:
    print("compile-fp16 optimum at the 1024 cap (true optimum may be higher):", ", ".join(capped))
EOF
