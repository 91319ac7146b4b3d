"""HTTP: blueprints, body parsing and the one error-to-HTTP map."""
