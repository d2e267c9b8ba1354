"""The functional core: immutable configs, pure schedules, pure param-group planning and training arithmetic.

Importing it needs no torch: configs can be validated anywhere.
"""

__version__ = "0.1.0"
