# Helpers the benchmark scripts share (sourced). Needs $PYTHON.

# Values of "json: " lines: jget FILE KEY=VALUE... FIELD prints FIELD of the last line whose
# keys match.
jget() {
  "$PYTHON" - "$@" <<'EOF'
import json, sys
path, *conds, field = sys.argv[1:]
want = dict(c.split("=", 1) for c in conds)
val = None
for line in open(path):
    if not line.startswith("json: "):
        continue
    d = json.loads(line[6:])
    if all(str(d.get(k)) == v for k, v in want.items()):
        val = d.get(field)
print("" if val is None else val)
EOF
}
calc() { "$PYTHON" -c "print($1)"; }
