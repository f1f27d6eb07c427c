"""A Sphinx extension: resolve a Python cross-reference by its last name.

The API reference shows each object under the import readers use
(``dlbook.data.make_shapes``), while docstrings may name it by the module that
defines it (``dlbook.data.shapes.make_shapes``) or by its bare name. When
Sphinx finds no exact target, this resolves the reference to the one
documented object with the same last name; with none or several it leaves the
reference unresolved, so the strict build still reports it.
"""

from __future__ import annotations

from sphinx.util.nodes import make_refnode


def _resolve(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "").lstrip("~.")
    if not target or not (target.startswith("dlbook") or "." not in target):
        return None
    last = target.rsplit(".", 1)[-1]
    objects = env.get_domain("py").objects
    matches = sorted(n for n in objects if n.rsplit(".", 1)[-1] == last
                     and n.startswith("dlbook") and not objects[n].aliased)
    if len(matches) != 1:
        return None
    entry = objects[matches[0]]
    return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id,
                        contnode, matches[0])


def setup(app):
    app.connect("missing-reference", _resolve)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
