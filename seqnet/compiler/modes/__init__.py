"""Training modes: how a spec's train section trains (`mode = standard`, `local`, `mask_merge`).

Each mode is defined once, in its own module here, on the registry (registry.py): its settings,
the compute dtypes it supports and the check it makes of the spec; backends attach its driver
with `register_driver`, the way they attach op lowerings. `catalog.load_modes()` fills MODES.
"""
