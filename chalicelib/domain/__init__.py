"""Pure domain: models, rules and errors. Imports neither chalice nor boto3."""
