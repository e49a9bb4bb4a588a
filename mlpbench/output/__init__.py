"""Output folders: what a command may write, replace or remove, and the file names it builds from names.

- `names`: every path component built from a name (implementation label, model, case, area, dtype) is one safe
  component, whatever the name holds.
- `manifest`: the record, kept in each output folder, of the files mlpbench wrote there, with their digests.
- `folder`: the ownership rule every command follows, and the writer that keeps the manifest.
"""
