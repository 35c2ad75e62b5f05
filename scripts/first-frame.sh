#!/usr/bin/env bash
# Time from process start to the first frame in tmux (140x42), for the sandbox TUI and for a bare
# Textual app with a Header and a Footer (the floor). Median of N runs each (default 5), in ms.
# Usage: scripts/first-frame.sh [N]      (run from the project root; uses .venv/bin/python or $PY)
set -u
N=${1:-5}
PY=${PY:-$PWD/.venv/bin/python}
"$PY" -m compileall -q sandbox  # as `make run` leaves it: bytecode present even under PYTHONDONTWRITEBYTECODE
command -v tmux >/dev/null || { echo "first-frame: tmux missing (apt-get install -y tmux)"; exit 0; }
HOME_DIR=$(mktemp -d)
BARE=$(mktemp --suffix=.py)
cat > "$BARE" <<'PYEOF'
from textual.app import App
from textual.widgets import Footer, Header
class Bare(App):
    TITLE = "bare-floor"
    def compose(self):
        yield Header()
        yield Footer()
Bare().run()
PYEOF
# One run: start the command in a fresh tmux session, poll the screen until MARKER shows.
frame_ms() {
  local cmd=$1 marker=$2 s=ff-$$-$RANDOM t0 t1
  t0=$(date +%s%N)
  tmux new-session -d -s "$s" -x 140 -y 42 "$cmd"
  for _ in $(seq 1 1000); do
    tmux capture-pane -p -t "$s" 2>/dev/null | grep -q -- "$marker" && break
    sleep 0.005
  done
  t1=$(date +%s%N)
  tmux kill-session -t "$s" 2>/dev/null
  echo $(( (t1 - t0) / 1000000 ))
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# Alternate the two, so a change in the machine's load during the runs affects both alike.
OURS=$(mktemp); FLOOR=$(mktemp)
for _ in $(seq 1 "$N"); do
  frame_ms "env SANDBOX_HOME=$HOME_DIR HF_HUB_OFFLINE=1 $PY -m sandbox" "Conversation" >> "$OURS"; sleep 0.5
  frame_ms "$PY $BARE" "bare-floor" >> "$FLOOR"; sleep 0.5
done
echo "first frame (median of $N, 140x42): sandbox $(median < "$OURS") ms, bare Textual Header+Footer $(median < "$FLOOR") ms"
rm -rf "$HOME_DIR" "$BARE" "$OURS" "$FLOOR"
