#!/bin/bash
# Compiles every production translation unit against FreeBSD 14.2's system headers
# (../shared/freebsd/sysroot-14.2, syntax only: there are no FreeBSD libraries to link), so a
# Linux-only header, constant or socket option is caught on Linux before a FreeBSD user meets
# it. Usage: scripts/freebsd-check.sh [BUILD_DIR]   (default: build; `make freebsd-check`)
#
# Each unit gets its own -I/-D/-W flags from BUILD_DIR/compile_commands.json, Clang 14 targeting
# FreeBSD (so the ngnetflow __FreeBSD__ paths are compiled too), libc++, and a folder of links
# to the third-party headers the units include from /usr/include (never /usr/include itself:
# glibc's headers would hide FreeBSD's). Our own warnings are errors. Prints one line per
# failing unit with its first errors, then "freebsd-check: N of M units compile"; exits 1 if
# any unit fails.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
case "$build" in /*) ;; *) build="$root/$build" ;; esac
sysroot="$root/../shared/freebsd/sysroot-14.2"
jobs=2
# Errors shown per failing unit.
max_errors=3

if [ ! -d "$sysroot/usr/include" ]; then
  echo "SKIP: freebsd-check: no FreeBSD sysroot at $sysroot"
  exit 0
fi
sysroot=$(cd "$sysroot" && pwd)

"$root/scripts/setup-deps.sh" freebsd

libcxx=/usr/lib/llvm-14/include/c++/v1
if [ ! -d "$libcxx" ]; then
  echo "freebsd-check: libc++ headers missing at $libcxx (scripts/setup-deps.sh freebsd)" >&2
  exit 1
fi

# The generated units (shipped templates, rc.d fragments) are written at configure time, so a
# configure is all a fresh build folder needs. A CMakeLists.txt edited since the last configure
# may list units compile_commands.json does not know yet: configure again then.
db="$build/compile_commands.json"
if [ ! -f "$db" ] ||
  [ -n "$(find "$root" -name CMakeLists.txt -newer "$db" -not -path "$build/*" -print -quit)" ]; then
  echo "freebsd-check: configuring $build" >&2
  cmake -S "$root" -B "$build" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/freebsd-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
links="$work/include"
mkdir -p "$links" "$work/units"

# One clang response file per production unit (its own -I/-D/-W flags and the file), and the
# list of top-level names the project's sources include.
python3 - "$root" "$build" "$work" <<'EOF'
import json, os, re, shlex, sys

root, build, work = sys.argv[1:4]
prod_dirs = ("common", "wire", "capture", "templates", "metrics", "ngnetflow", "exporter",
             "collector", "tools")


def is_production(path):
    # The build folder first: it may sit inside the source tree, and its generated units
    # (templates/, ngnetflow/) are production while its tests/ and bench/ are not.
    for base in (build, root):
        rel = os.path.relpath(path, base)
        if not rel.startswith(".."):
            return rel.split(os.sep)[0] in prod_dirs
    return False


def ours(path):
    path = os.path.abspath(path)
    return any(not os.path.relpath(path, b).startswith("..") for b in (root, build))


def quote(arg):
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


with open(os.path.join(build, "compile_commands.json")) as f:
    entries = json.load(f)

seen = set()
units = []
for e in entries:
    path = os.path.normpath(os.path.join(e["directory"], e["file"]))
    if path in seen or not is_production(path):
        continue
    seen.add(path)
    args = e.get("arguments") or shlex.split(e["command"])
    flags = []
    i = 1
    while i < len(args):
        a = args[i]
        if a in ("-I", "-isystem", "-iquote", "-include", "-D", "-U"):
            val = args[i + 1] if i + 1 < len(args) else ""
            i += 2
            # Include folders outside the project are Linux's (pkg-config's dbus and the
            # like); the third-party headers come from the links folder instead.
            if a in ("-I", "-isystem", "-iquote") and not ours(os.path.join(e["directory"], val)):
                continue
            flags += [a, val]
            continue
        i += 1
        if a.startswith("-I"):
            if ours(os.path.join(e["directory"], a[2:])):
                flags.append(a)
        elif a.startswith(("-D", "-U")):
            flags.append(a)
        elif a.startswith("-W") and not a.startswith(("-Wl,", "-Wa,", "-Wp,")):
            flags.append(a)
    units.append((path, flags))

units.sort()
for n, (path, flags) in enumerate(units):
    with open(os.path.join(work, "units", "%03d.rsp" % n), "w") as f:
        f.write("\n".join(quote(a) for a in flags + [path]) + "\n")
    with open(os.path.join(work, "units", "%03d.name" % n), "w") as f:
        rel = os.path.relpath(path, root)
        f.write((path if rel.startswith("..") else rel) + "\n")

# Top-level names (absl, boost, pcap, CLI, ...) of every include in the project's production
# sources and headers; the shell links those that Debian has and FreeBSD's base does not.
names = set()
include = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)
for d in prod_dirs:
    for dirpath, _, files in os.walk(os.path.join(root, d)):
        for name in files:
            if name.endswith((".h", ".cc", ".inc")):
                with open(os.path.join(dirpath, name), errors="replace") as f:
                    names.update(m.split("/")[0] for m in include.findall(f.read()))
for path, _ in units:
    with open(path, errors="replace") as f:
        names.update(m.split("/")[0] for m in include.findall(f.read()))
with open(os.path.join(work, "names"), "w") as f:
    f.write("\n".join(sorted(names)) + "\n")
EOF

# Linux's kernel headers stay out: a unit that includes them is exactly what this check is for.
while IFS= read -r name; do
  case "$name" in linux | asm | asm-generic | "") continue ;; esac
  if [ "$name" = openssl ] && [ ! -e "$sysroot/usr/include/openssl" ]; then
    # FreeBSD's base has OpenSSL 3.0 in /usr/include/openssl; Debian splits the same headers
    # between /usr/include/openssl and the multiarch folder, so both are linked into one.
    mkdir -p "$links/openssl"
    for h in /usr/include/openssl/*.h /usr/include/*-linux-gnu/openssl/*.h; do
      [ -e "$h" ] && ln -sf "$h" "$links/openssl/$(basename "$h")"
    done
    continue
  fi
  if [ -e "/usr/include/$name" ] && [ ! -e "$sysroot/usr/include/$name" ]; then
    ln -s "/usr/include/$name" "$links/$name"
  fi
done <"$work/names"

cat >"$work/compile.sh" <<EOF
#!/bin/sh
# One unit: its diagnostics to NAME.out, its exit status to NAME.rc.
set -u
rsp=\$1
clang++-14 --target=x86_64-unknown-freebsd14 --sysroot="$sysroot" \\
  -nostdinc++ -isystem "$libcxx" -isystem "$links" \\
  -D_LIBCPP_ENABLE_CXX20_REMOVED_TYPE_TRAITS -std=c++20 -fsyntax-only -Werror \\
  -fno-color-diagnostics @"\$rsp" >"\${rsp%.rsp}.out" 2>&1
echo \$? >"\${rsp%.rsp}.rc"
EOF
chmod +x "$work/compile.sh"

find "$work/units" -name '*.rsp' -print0 | sort -z | xargs -0 -n1 -P"$jobs" "$work/compile.sh"

total=0
ok=0
for rsp in "$work"/units/*.rsp; do
  base=${rsp%.rsp}
  total=$((total + 1))
  if [ "$(cat "$base.rc")" = 0 ]; then
    ok=$((ok + 1))
    continue
  fi
  # First errors, one per line after the unit's name, paths shown relative to the project.
  errors=$(grep -E ': (fatal )?error: ' "$base.out" | head -n "$max_errors" |
    sed -e "s|$root/||g" -e 's/^/    /' || true)
  echo "FAIL $(cat "$base.name")"
  [ -n "$errors" ] && echo "$errors"
done

echo "freebsd-check: $ok of $total units compile"
[ "$ok" -eq "$total" ]
