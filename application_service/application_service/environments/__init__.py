"""Settings, one module per environment over one shared base (see environment.py)."""
