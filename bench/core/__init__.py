"""The floor: errors, the content-addressed store, hashing, paths and network helpers.

Everything else of ours may import from here; nothing here imports anything else of ours
(``tests/test_architecture.py`` checks it), so these modules can never pull the engine, the
tasks or the prompts into an import cycle.
"""
