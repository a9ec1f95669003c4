#!/usr/bin/env python3
"""Keeps the FreeBSD rc.d scripts (packaging/freebsd/rc.d/) honest.

For each script: `shellcheck -s sh` reports nothing; the rc.subr(8) essentials are there
(# PROVIDE: with the script's name, # REQUIRE:, # KEYWORD: shutdown, `. /etc/rc.subr`,
name=, rcvar=, load_rc_config, run_rc_command "$1", daemon(8) as the command); every
<name>_... rc.conf variable the header comment documents is one the script reads; and every
variable it gives a default with `: "${<name>_...:=...}"` is documented.

Usage: check_freebsd_rcd.py [SOURCE_DIR]   (default: this file's repository)
Exit status: 0 pass, 1 fail, 77 skip (no shellcheck).
"""
import os
import re
import shutil
import subprocess
import sys

SCRIPTS = ("flowexport", "flowcollect")


def header_lines(text):
    """The leading comment block, after the #! line."""
    out = []
    for line in text.splitlines()[1:]:
        if line.startswith("#"):
            out.append(line)
        elif line.strip() == "" and not out:
            continue
        else:
            break
    return out


def documented_vars(name, header):
    # "# flowexport_flags (str): ..." and "# flowexport_<profile>_flags (str): ...".
    pat = re.compile(r"^#\s+(" + re.escape(name) + r"_[A-Za-z0-9_<>]+)\s+\(")
    return [m.group(1) for m in map(pat.match, header) if m]


def read_pattern(var):
    """Regex for an expansion of var; <x> in var stands for $x or ${x} (eval'd names)."""
    parts = re.split(r"<([A-Za-z0-9_]+)>", var)
    rx = ""
    for i, part in enumerate(parts):
        rx += re.escape(part) if i % 2 == 0 else r"\$\{?" + re.escape(part) + r"\}?"
    return re.compile(r"\$\{?" + rx + r"(?![A-Za-z0-9_])")


def check_script(path, shellcheck):
    problems = []
    name = os.path.basename(path)
    with open(path, encoding="utf-8") as f:
        text = f.read()

    proc = subprocess.run([shellcheck, "-s", "sh", path], capture_output=True, text=True)
    if proc.returncode != 0 or proc.stdout.strip() or proc.stderr.strip():
        problems.append("shellcheck -s sh reports:\n" + (proc.stdout + proc.stderr).rstrip())

    required = [
        (r"^#!/bin/sh$", "#!/bin/sh first line"),
        (r"^# PROVIDE:\s*" + re.escape(name) + r"\s*$", "# PROVIDE: " + name),
        (r"^# REQUIRE:\s*\S", "# REQUIRE: line"),
        (r"^# KEYWORD:.*\bshutdown\b", "# KEYWORD: shutdown"),
        (r"^\. /etc/rc\.subr\s*$", ". /etc/rc.subr"),
        (r"^name=\"?" + re.escape(name) + r"\"?\s*$", "name=" + name),
        (r"^rcvar=\"?" + re.escape(name) + r"_enable\"?\s*$", "rcvar=" + name + "_enable"),
        (r"^load_rc_config\s+(\$name|\"\$name\"|" + re.escape(name) + r")\s*$",
         "load_rc_config $name"),
        (r"^:\s+\"?\$\{" + re.escape(name) + r"_enable:=\"?NO\"?\}", name + '_enable default "NO"'),
        (r"^command=\"?/usr/sbin/daemon\"?\s*$", "command=/usr/sbin/daemon (supervision)"),
        (r"^run_rc_command\s+\"\$1\"\s*$", 'run_rc_command "$1"'),
    ]
    for rx, what in required:
        if not re.search(rx, text, re.M):
            problems.append("missing: " + what)

    # What the script reads: its text with ${name}/$name spelled out, without the lines that
    # only give defaults (": "${var:=...}"" reads nothing for the service's sake).
    body = re.sub(r"\$\{name\}|\$name(?![A-Za-z0-9_])", name, text)
    default_rx = re.compile(r"^\s*:\s+\"?\$\{(" + re.escape(name) + r"_[A-Za-z0-9_]+):?=")
    code = "\n".join(l for l in body.splitlines()
                     if not l.lstrip().startswith("#") and not default_rx.match(l))
    rcvar = re.search(r"^rcvar=\"?([A-Za-z0-9_]+)", text, re.M)

    documented = documented_vars(name, header_lines(text))
    if not documented:
        problems.append("the header comment documents no %s_... rc.conf variable" % name)
    for var in documented:
        if rcvar and var == rcvar.group(1):
            continue  # read by rc.subr through rcvar
        if not read_pattern(var).search(code):
            problems.append("documented but never read: " + var)

    for line in body.splitlines():
        m = default_rx.match(line)
        if m and m.group(1) not in documented:
            problems.append("has a default but is not documented in the header: " + m.group(1))
    return problems


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    shellcheck = shutil.which("shellcheck")
    if not shellcheck:
        print("SKIP: shellcheck is not installed (apt-get install shellcheck)")
        return 77
    failed = False
    for script in SCRIPTS:
        path = os.path.join(root, "packaging", "freebsd", "rc.d", script)
        if not os.path.isfile(path):
            print("FAIL %s: missing" % path)
            failed = True
            continue
        problems = check_script(path, shellcheck)
        rel = os.path.join("packaging", "freebsd", "rc.d", script)
        if problems:
            failed = True
            print("FAIL " + rel)
            for p in problems:
                print("  " + p.replace("\n", "\n    "))
        else:
            print("ok   " + rel)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
