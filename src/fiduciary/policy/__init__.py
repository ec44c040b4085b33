"""The policy file: schema, loading with file:line errors, checks, versions, diffs, the rendered notice."""
