"""The configuration: frozen models, strict YAML with positions, the loader and its checks."""
