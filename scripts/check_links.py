#!/usr/bin/env python3
"""Relative links in the project's Markdown resolve: README.md, docs/*.md and every other
README.md under scripts/. A link to a file must name one that exists; a `#fragment` (alone or
after a Markdown file) must name a heading of that file, as GitHub makes anchors. Links with a
scheme (https:, mailto:) are not followed. Exit 1 with one line per broken link.

    python scripts/check_links.py [FILE.md ...]
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# [text](target) and [text](target "title"), images too; reference definitions `[x]: target`
INLINE = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.M)
FENCE = re.compile(r"^(```|~~~).*?^\1\s*$", re.M | re.S)
CODE = re.compile(r"`[^`\n]*`")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def default_files():
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    files += sorted((ROOT / "scripts").rglob("README.md"))
    return [f for f in files if f.exists()]


def slug(heading):
    """GitHub's anchor of a heading: lower case, markup and punctuation dropped, spaces to '-'."""
    text = re.sub(r"`([^`]*)`", r"\1", heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path, cache={}):  # noqa: B006 (a cache on purpose)
    if path not in cache:
        text = FENCE.sub("", path.read_text(encoding="utf-8"))
        seen, out = {}, set()
        for heading in HEADING.findall(text):
            base = slug(heading)
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
        cache[path] = out
    return cache[path]


def links(text):
    text = CODE.sub("", FENCE.sub("", text))
    return INLINE.findall(text) + DEFINITION.findall(text)


def shown(path):
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def broken(md):
    problems = []
    for target in links(md.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
            continue
        path_part, _, fragment = target.partition("#")
        dest = (md.parent / path_part).resolve() if path_part else md
        if not dest.exists():
            problems.append(f"{shown(md)}: {target}: no such file")
        elif fragment and dest.suffix == ".md" and fragment.lower() not in anchors(dest):
            problems.append(f"{shown(md)}: {target}: no heading #{fragment} in {shown(dest)}")
    return problems


def main(argv):
    files = [Path(a).resolve() for a in argv] or default_files()
    problems = [p for md in files for p in broken(md)]
    for p in problems:
        print(p)
    checked = ", ".join(shown(f) for f in files)
    print(f"{len(problems)} broken link(s) in {len(files)} file(s): {checked}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
