"""Schemathesis against the local stack (``make api-fuzz``): its hooks, loaded in its own venv."""
