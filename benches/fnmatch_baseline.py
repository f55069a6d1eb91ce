#!/usr/bin/env python3
"""Baseline for `explain --task-json` in the scale bench: FlexGet's method, fnmatch one pattern
at a time.

Usage: python3 benches/fnmatch_baseline.py RULES.toml TASKS.json > /dev/null

Reads the same rules file and the same saved list answer as
`cloudreve-autoselect --config RULES.toml explain --task-json TASKS.json`. For every file of
every task it tries each rule's globs in turn with `fnmatch` (a glob without "/" against the
base name, one with "/" against the whole path, both lower-cased once per file unless the rule
is case-sensitive); the first rule with a matching glob decides. It prints one line per file,
as explain's table does. Only glob rules are supported: that is all the bench uses.
"""

import fnmatch
import json
import sys
import tomllib


def load_rules(path):
    with open(path, "rb") as f:
        config = tomllib.load(f)
    rules = []
    for rule in config.get("rule", []):
        globs = rule.get("glob", [])
        if isinstance(globs, str):
            globs = [globs]
        case_sensitive = rule.get("case_sensitive", False)
        compiled = [(g if case_sensitive else g.lower(), "/" in g) for g in globs]
        rules.append((rule["name"], rule.get("action", "skip"), compiled, case_sensitive))
    return rules


def tasks_of(document):
    if isinstance(document, list):
        return document
    data = document.get("data", document)
    if isinstance(data, dict) and "tasks" in data:
        return data["tasks"] or []
    return [document]


def main():
    rules = load_rules(sys.argv[1])
    with open(sys.argv[2], "rb") as f:
        tasks = tasks_of(json.load(f))
    out = []
    for task in tasks:
        download = ((task.get("summary") or {}).get("props") or {}).get("download") or {}
        out.append(f"task {task['id']} {download.get('name', '')}")
        for file in download.get("files") or []:
            path = file["name"]
            lower = path.lower()
            base = path.rsplit("/", 1)[-1]
            lower_base = base.lower()
            verdict, decided_by = "-", "-"
            for name, action, globs, case_sensitive in rules:
                for glob, against_path in globs:
                    if against_path:
                        subject = path if case_sensitive else lower
                    else:
                        subject = base if case_sensitive else lower_base
                    if fnmatch.fnmatch(subject, glob):
                        verdict, decided_by = action, name
                        break
                if decided_by != "-":
                    break
            out.append(
                f"{file['index']:>6}  {str(file.get('selected')):<8}  {verdict:<7}  "
                f"{decided_by:<16}  {file.get('size', 0):>12}  {path}"
            )
    sys.stdout.write("\n".join(out))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
