"""The engine: load, Engine, Session, and the values it takes and gives."""
