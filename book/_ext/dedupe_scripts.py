"""Drop duplicate <script> entries from each page.

Sphinx 7.4 with the book theme emits some inline scripts twice, which makes the browser log
``Identifier 'THEBE_JS_URL' has already been declared`` on every page. Removing exact
duplicates (same file or same inline body, same attributes) is enough.
"""

from __future__ import annotations

from typing import Any


def _drop_duplicates(app: Any, pagename: str, templatename: str, context: dict,
                     doctree: Any) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    unique = []
    for script in scripts:
        # Same file (or same inline body) and same attributes: a duplicate, whatever priority
        # each copy was registered with.
        filename = str(getattr(script, "filename", script) or "")  # inline: None or ""
        attrs = getattr(script, "attributes", {})
        key = (filename, tuple(sorted((k, str(v)) for k, v in attrs.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app: Any) -> dict:
    app.connect("html-page-context", _drop_duplicates, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
