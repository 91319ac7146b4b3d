"""The whole service on one machine: moto as the AWS engine, Chalice's local server, queue and
schedule drivers. Not deployed: Lambda gets ``app.py`` and ``chalicelib/`` only."""
