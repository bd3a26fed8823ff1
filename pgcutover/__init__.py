"""The machinery of pgcutover: commands, run loop, lock, bookkeeping, journal, drivers, settings.

`commands` and `reports` are what each task does; `engine` walks a plan of steps (from the `steps`
package) as journaled checkpoints; everything else is one concern per module.
"""
