# Sourced at the top of each walkthrough of the README (bash, from the repository's directory):
#
#   . docs/walkthrough.sh
#
# It stops the Laurel this script started before, if any, and starts a fresh one in the
# background: embedded database in memory, the demo program, a known admin key, its log in a file
# (never in your terminal). So every walkthrough starts from the same state and prints what the
# README says, whichever ran before. The demo's history is written relative to "now", and the
# server's clock starts on 1 December 2026 (LAUREL_CLOCK_START), so dates and tier figures match
# too. It then defines:
#
#   API, KEY, PROGRAM   the API's base URL, the demo tenant's admin key, the demo program's id
#   call METHOD PATH [BODY] [HEADER…]
#                       curl with the key (or $AS: AS=$TOKEN call … calls as a member); prints the
#                       HTTP status on a line of its own, then the answer
#   … | pick EXPR       keeps the status and, of the answer, only EXPR: a JavaScript expression
#                       over its fields (`points`, `event.total`, `data.map((e) => e.kind)`); a
#                       refusal (not 2xx) is printed whole
#   … | value EXPR      only EXPR's value, for a variable (X=$(call … | value memberId)); an answer
#                       that is not 2xx is printed on stderr and fails
#
# Environment: LAUREL_WALKTHROUGH_PORT (default 3100), LAUREL_WALKTHROUGH_DIR (pid and log; default
# $TMPDIR/laurel-walkthrough). `walkthrough_stop` stops the server.

LAUREL_WALKTHROUGH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LAUREL_WALKTHROUGH_DIR=${LAUREL_WALKTHROUGH_DIR:-${TMPDIR:-/tmp}/laurel-walkthrough}
LAUREL_WALKTHROUGH_PORT=${LAUREL_WALKTHROUGH_PORT:-3100}
mkdir -p "$LAUREL_WALKTHROUGH_DIR"

walkthrough_stop() {
  local pid
  pid=$(cat "$LAUREL_WALKTHROUGH_DIR/pid" 2>/dev/null) || return 0
  rm -f "$LAUREL_WALKTHROUGH_DIR/pid"
  kill "$pid" 2>/dev/null || return 0
  local i
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true   # still finishing after 10 s: a fresh start matters more
}

walkthrough_start() {
  walkthrough_stop
  # what `npm start` runs, without npm in between, so the pid is the server's own
  (cd "$LAUREL_WALKTHROUGH_ROOT" && exec env LAUREL_DATA_DIR=memory:// LAUREL_ADMIN_KEY=lk_walkthrough_0123456789 \
    LAUREL_CLOCK_START=2026-12-01T09:00:00Z PORT="$LAUREL_WALKTHROUGH_PORT" HOST=127.0.0.1 \
    node --import tsx src/cli/main.ts serve) > "$LAUREL_WALKTHROUGH_DIR/laurel.log" 2>&1 &
  echo $! > "$LAUREL_WALKTHROUGH_DIR/pid"
  local i
  for i in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$LAUREL_WALKTHROUGH_PORT/healthz" > /dev/null && break
    if ! kill -0 "$(cat "$LAUREL_WALKTHROUGH_DIR/pid")" 2>/dev/null || [ "$i" = 600 ]; then
      echo "Laurel did not start; its log, $LAUREL_WALKTHROUGH_DIR/laurel.log:" >&2
      tail -n 20 "$LAUREL_WALKTHROUGH_DIR/laurel.log" >&2
      return 1
    fi
    sleep 0.2
  done
  echo "Laurel is ready on http://127.0.0.1:$LAUREL_WALKTHROUGH_PORT (log: $LAUREL_WALKTHROUGH_DIR/laurel.log)"
}

call() {
  local method=$1 path=$2 body=${3-} header
  local args=(-s -X "$method" -H "Authorization: Bearer ${AS:-$KEY}" -w '\n%{http_code}')
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  for header in "${@:4}"; do args+=(-H "$header"); done
  curl "${args[@]}" "$API$path" | node -e '
    const text = require("fs").readFileSync(0, "utf8");
    const cut = text.lastIndexOf("\n");
    const body = text.slice(0, cut);
    let shown = body;
    try { shown = JSON.stringify(JSON.parse(body), null, 2); } catch {}
    console.log(`HTTP ${text.slice(cut + 1)}`);
    if (body !== "") console.log(shown);'
}

# The expression is evaluated with the answer's fields in scope (sloppy mode, for `with`).
WALKTHROUGH_EVAL='
  const [status, ...rest] = require("fs").readFileSync(0, "utf8").split("\n");
  const answer = rest.join("\n").trim() === "" ? {} : JSON.parse(rest.join("\n"));
  const code = Number(status.replace("HTTP ", ""));
  let result;
  try { result = new Function("answer", `with (answer) return (${process.argv[1]});`)(answer); } catch {}'

pick() {
  node -e "$WALKTHROUGH_EVAL"'
    console.log(status);
    if (code < 200 || code > 299) console.log(JSON.stringify(answer, null, 2)); // a refusal: all of it
    else console.log(result === undefined ? "undefined" : JSON.stringify(result));' "$1"
}

value() {
  node -e "$WALKTHROUGH_EVAL"'
    if (code < 200 || code > 299 || result === undefined) {
      console.error(`${status}: ${process.argv[1]} not in ${JSON.stringify(answer)}`);
      process.exit(1);
    }
    console.log(typeof result === "string" ? result : JSON.stringify(result));' "$1"
}

walkthrough_start || return 1
API=http://127.0.0.1:$LAUREL_WALKTHROUGH_PORT/v1
KEY=lk_walkthrough_0123456789
PROGRAM=$(call GET /programs | value 'data[0].programId')
