"""The helpers generated code calls (srcdiff/runtime/), one test module per runtime module."""
