"""rights domain: data principals' rights. For now, the exporter/eraser registry every domain joins.

`registry.registry_for(runtime)` gives the runtime's registry (built-in domains from `domains`, plus any
registered with `registry.register`); its `export_person` and `erase_person` run every domain. Rights
requests (deadlines, identity verification, export packages) build on it. See docs/rights-registry.md.
"""
