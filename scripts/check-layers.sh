#!/usr/bin/env bash
# Checks that the layers only point down (docs/architecture.md, "Layers"):
#
#   cli > http > domain > store, outbound > base
#
# 1. Every quoted #include in src/ and include/ resolves to a file of the
#    project of the same layer or of a lower one (store and outbound are
#    peers that do not see each other).
# 2. With a build folder: every symbol that an object file of src/ uses and
#    another one defines belongs to the same layer or a lower one (this
#    catches calls, not only includes), and the domain's files do not call
#    each other in a circle.
#
#   check-layers.sh [BUILD_DIR]
# Prints each violation and exits 1 when there is one; otherwise prints one
# line saying what it checked.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
build=${1:-}

# The layer of a path, as "name rank"; shared by both checks.
layers_awk='
function layer(p) {
    if (p ~ /^(src\/base|include\/risinggen\/base)\//) return "base 0"
    if (p ~ /^(src\/store|include\/risinggen\/store)\//) return "store 1"
    if (p ~ /^(src\/outbound|include\/risinggen\/outbound)\//) return "outbound 1"
    if (p ~ /^(src\/domain|include\/risinggen\/domain)\//) return "domain 2"
    if (p ~ /^src\/http\//) return "http 3"
    if (p ~ /^src\/cli\//) return "cli 4"
    return ""
}
# 1 when a file of layer a may use one of layer b
function allowed(a, b,    x, y) {
    split(a, x, " "); split(b, y, " ")
    return x[1] == y[1] || y[2] + 0 < x[2] + 0
}
function name(l,    x) { split(l, x, " "); return x[1] }
'

files=$( (git ls-files 'src/*' 'include/*'; git ls-files --others --exclude-standard 'src/*' 'include/*') | sort -u)
sources=$(echo "$files" | grep -E '\.(c|h)$')
# "file included-name" for every quoted include
includes=$(for f in $sources; do
    sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f" | sed "s|^|$f |"
done)
# The folders the build searches for quoted includes (CMakeLists.txt).
report=$({ echo "$files" | sed 's/^/F /'; echo "$includes" | sed 's/^/I /'; } | awk "$layers_awk"'
    $1 == "F" { have[$2] = 1; next }
    $1 == "I" {
        file = $2; inc = $3; dir = file; sub(/\/[^\/]*$/, "", dir)
        n = split(dir " include src src/domain src/store", cand, " ")
        target = ""
        for (i = 1; i <= n && target == ""; i++) if ((cand[i] "/" inc) in have) target = cand[i] "/" inc
        count++
        if (target == "") { print "layers: " file " includes \"" inc "\", which is not a file of the project"; next }
        a = layer(file); b = layer(target)
        if (a != "" && b != "" && !allowed(a, b))
            print "layers: " file " (" name(a) ") includes " target " (" name(b) "), a layer above it or beside it"
    }
    END { print "COUNT " count + 0 }')
nincludes=$(echo "$report" | sed -n 's/^COUNT //p')
problems=$(echo "$report" | grep -v '^COUNT ')

summary="$nincludes includes"
if [ -n "$build" ]; then
    objdir="$build/CMakeFiles/rgcore.dir/src"
    if [ ! -d "$objdir" ]; then
        echo "layers: no object files under $objdir (build first)"
        exit 2
    fi
    # "D file symbol" for definitions, "U file symbol" for uses.
    table=$(cd "$objdir" && find . -name '*.o' | sort | while read -r o; do
        f=src/${o#./}
        nm "$o" | awk -v f="${f%.o}" '$1 == "U" { print "U", f, $2 } NF == 3 && $2 ~ /^[TDBRC]$/ { print "D", f, $3 }'
    done)
    calls=$(echo "$table" | awk "$layers_awk"'
        $1 == "D" { def[$3] = $2; files[$2] = 1; next }
        $1 == "U" { use[++n] = $2 " " $3 }
        END {
            for (i = 1; i <= n; i++) {
                split(use[i], p, " ")
                if (!(p[2] in def) || def[p[2]] == p[1]) continue
                a = layer(p[1]); b = layer(def[p[2]])
                if (a != "" && b != "" && !allowed(a, b))
                    print "layers: " p[1] " (" name(a) ") calls " p[2] " of " def[p[2]] " (" name(b) "), a layer above it or beside it"
                if (p[1] ~ /^src\/domain\// && def[p[2]] ~ /^src\/domain\//) print "E " p[1] " " def[p[2]]
            }
            nf = 0; for (f in files) nf++
            print "COUNT " nf
        }')
    nobjects=$(echo "$calls" | sed -n 's/^COUNT //p')
    problems=$(printf '%s\n%s' "$problems" "$(echo "$calls" | grep '^layers: ')")
    # Circles among the domain's files: drop files that call no remaining
    # file, then files that no remaining file calls, until nothing changes;
    # what is left lies on a circle.
    circle=$(echo "$calls" | sed -n 's/^E //p' | sort -u | awk '
        { e[$1 " " $2] = 1; alive[$1] = 1; alive[$2] = 1 }
        END {
            do {
                changed = 0
                for (a in alive) {
                    out = 0; in_ = 0
                    for (k in e) {
                        split(k, p, " ")
                        if (!(p[1] in alive) || !(p[2] in alive)) continue
                        if (p[1] == a) out = 1
                        if (p[2] == a) in_ = 1
                    }
                    if (!out || !in_) { delete alive[a]; changed = 1 }
                }
            } while (changed)
            for (k in e) { split(k, p, " "); if ((p[1] in alive) && (p[2] in alive)) print "  " p[1] " -> " p[2] }
        }' | sort)
    if [ -n "$circle" ]; then
        problems=$(printf '%s\nlayers: the domain'"'"'s files call each other in a circle:\n%s' "$problems" "$circle")
    fi
    summary="$summary, calls between $nobjects object files, no circle in the domain"
fi

problems=$(echo "$problems" | sed '/^$/d')
if [ -n "$problems" ]; then
    echo "$problems"
    echo "layers: FAILED (see docs/architecture.md, \"Layers\")"
    exit 1
fi
echo "layers: ok ($summary)"
