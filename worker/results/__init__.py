"""Reading what runs produced: run records, finding one image's outcome, exporting outcomes as a table.

Nothing here knows about the command line; ``cardpipe runs``, ``show`` and ``export`` are thin shells over it.
"""
