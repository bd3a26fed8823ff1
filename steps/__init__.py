"""The runbook: one module per step of the window or the rollback, and the two plans ordering them.

A step author lives here: `window.py` is the window's one ordered list, `rollback.py` the
rollback's. The machinery the steps stand on (run loop, lock, journal, drivers, settings) is
in `pgcutover`.
"""
