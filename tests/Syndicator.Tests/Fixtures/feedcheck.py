#!/usr/bin/python3
"""Parse one feed file with feedparser and print what it understood as one JSON object.

Usage: /usr/bin/python3 feedcheck.py FEED_FILE

Run with Debian's interpreter (python3-feedparser): a pyenv/venv python3 earlier on PATH
usually lacks feedparser.  The tests (tests/Syndicator.Tests/Support/ExternalFeedValidators.cs)
judge the output; this script only reports.

Exit status: 0 whenever it ran (even for a broken feed: see "bozo"), 2 for a usage error or
an unreadable file, 3 when feedparser cannot be imported.
"""

import json
import sys
import time

EXIT_USAGE = 2
EXIT_NO_FEEDPARSER = 3


def iso(parsed):
    """feedparser's *_parsed values are UTC time.struct_time; None when it could not parse the date."""
    if parsed is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", parsed)


def text(value):
    return None if value is None else str(value)


def describe_exception(exc):
    if exc is None:
        return None
    return "%s: %s" % (type(exc).__name__, exc)


def first_entry(entry):
    content = entry.get("content") or []
    summary_detail = entry.get("summary_detail") or {}
    return {
        "id": text(entry.get("id")),
        "title": text(entry.get("title")),
        "link": text(entry.get("link")),
        "links": [
            {"href": l.get("href"), "rel": l.get("rel"), "type": l.get("type")}
            for l in entry.get("links") or []
        ],
        "author": text(entry.get("author")),
        "published": text(entry.get("published")),
        "published_parsed": iso(entry.get("published_parsed")),
        "updated": text(entry.get("updated")),
        "updated_parsed": iso(entry.get("updated_parsed")),
        "tags": [t.get("term") for t in entry.get("tags") or []],
        "enclosures": [
            {"href": e.get("href"), "type": e.get("type"), "length": text(e.get("length"))}
            for e in entry.get("enclosures") or []
        ],
        # Media type of the full content (atom:content / content:encoded / JSON content_html...),
        # else of the summary; None when the entry has neither.
        "content_type": (content[0].get("type") if content else summary_detail.get("type")),
        "content": (content[0].get("value") if content else None),
        "summary": text(entry.get("summary")),
    }


def supports_json_feed(feedparser):
    versions = getattr(feedparser, "SUPPORTED_VERSIONS", None)
    if versions is None:
        api = getattr(feedparser, "api", None)
        versions = getattr(api, "SUPPORTED_VERSIONS", {}) if api else {}
    return any(str(v).startswith("json") for v in versions)


def main(argv):
    if len(argv) != 2:
        print("usage: feedcheck.py FEED_FILE", file=sys.stderr)
        return EXIT_USAGE
    try:
        import feedparser
    except ImportError as exc:
        print("feedparser is not importable by %s (%s): install Debian's python3-feedparser"
              % (sys.executable, exc), file=sys.stderr)
        return EXIT_NO_FEEDPARSER
    try:
        with open(argv[1], "rb") as f:
            data = f.read()
    except OSError as exc:
        print("cannot read %s: %s" % (argv[1], exc), file=sys.stderr)
        return EXIT_USAGE

    # Parse the bytes (not the path) so feedparser never treats the argument as a URL to fetch.
    d = feedparser.parse(data)
    feed = d.get("feed") or {}
    entries = d.get("entries") or []
    result = {
        "feedparser_version": getattr(feedparser, "__version__", None),
        "supports_json_feed": supports_json_feed(feedparser),
        "bozo": bool(d.get("bozo")),
        "bozo_exception": describe_exception(d.get("bozo_exception")) if d.get("bozo") else None,
        "version": d.get("version") or "",
        "encoding": d.get("encoding"),
        "title": text(feed.get("title")),
        "link": text(feed.get("link")),
        "subtitle": text(feed.get("subtitle")),
        "language": text(feed.get("language")),
        "updated": text(feed.get("updated")),
        "updated_parsed": iso(feed.get("updated_parsed")),
        "entries": len(entries),
        "first_entry": first_entry(entries[0]) if entries else None,
    }
    # UTF-8 bytes whatever the locale says (a C/POSIX locale would otherwise choke on non-ASCII titles).
    sys.stdout.buffer.write((json.dumps(result, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
