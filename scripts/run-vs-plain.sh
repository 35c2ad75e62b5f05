#!/usr/bin/env bash
# Whole-process wall time: `sandbox run` for 256 tokens vs plain llama-cpp-python doing the same
# generation in its own process (same model, prompt, context, threads). Median of N runs (default 5).
# Usage: scripts/run-vs-plain.sh [N]     (from the project root; uses .venv/bin/python or $PY)
set -u
N=${1:-5}
PY=${PY:-$PWD/.venv/bin/python}
"$PY" -m compileall -q sandbox  # as `make run` leaves it: bytecode present even under PYTHONDONTWRITEBYTECODE
HOME_DIR=$(mktemp -d)
PLAIN=$(mktemp --suffix=.py)
PROMPT="Write a short story about a lighthouse keeper."
cat > "$PLAIN" <<PYEOF
import os, llama_cpp
from sandbox.core.paths import bundled_model
from sandbox.core.llama_cpu import avoid_crashing_paths
avoid_crashing_paths()  # sandbox's model parameters: on an AMX CPU llama.cpp's defaults crash
llm = llama_cpp.Llama(model_path=str(bundled_model()), n_ctx=8192, n_threads=os.cpu_count(), n_threads_batch=os.cpu_count(), verbose=False)
msgs = [{"role": "user", "content": "$PROMPT"}]
out = llm.create_chat_completion(msgs, max_tokens=256, temperature=0.7, top_p=0.95, top_k=40, min_p=0.05,
                                 repeat_penalty=1.1, seed=1, logit_bias={t: -1e9 for t in [llm.token_eos()]})
print(out["choices"][0]["message"]["content"][:40].replace("\n", " "), out["usage"]["completion_tokens"])
PYEOF
ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
SANDBOX_HOME=$HOME_DIR "$PY" -m sandbox run "$PROMPT" --max-tokens 256 --ignore-eos --seed 1 >/dev/null 2>&1  # warm: caches, .pyc
ours=(); plain=()
for _ in $(seq 1 "$N"); do  # interleaved, so machine noise hits both alike
  ours+=("$(ms env SANDBOX_HOME=$HOME_DIR "$PY" -m sandbox run "$PROMPT" --max-tokens 256 --ignore-eos --seed 1)")
  plain+=("$(ms "$PY" "$PLAIN")")
done
o=$(printf '%s\n' "${ours[@]}" | median); p=$(printf '%s\n' "${plain[@]}" | median)
echo "sandbox run: ${o} ms, plain llama-cpp-python: ${p} ms (median of $N, 256 tokens) = $(awk "BEGIN {printf \"%.2f\", $o / $p}")x (goal <= 1.05x)"
rm -rf "$HOME_DIR" "$PLAIN"
