"""The compiler passes, one per module; :mod:`srcdiff.pipeline` lists them in order."""
