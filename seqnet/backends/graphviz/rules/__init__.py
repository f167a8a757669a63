"""Graphviz drawing rules, one module per op family that needs more than a plain node.

An op's rule is registered against it with `register_drawing(op, "graphviz")` (the registry's
counterpart of `register_lowering`) and stored in `OpDef.drawings["graphviz"]`; an op without one
is drawn by its family's default rule (`base.FAMILY_RULES`). `lookup.rule_for_op` picks between
them; the builder never looks at op names. These modules count as the ops' own files.
"""
