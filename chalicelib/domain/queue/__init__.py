"""The waiting room's pure rules (contract v1.2, "The waiting room"). No AWS, no HTTP.

One concept a module: ``order`` (a ticket's ID, the order of the line, the buckets its positions
are written in), ``pace`` (``serving`` as segments of time, the line's state), ``standing`` (a
ticket's status at a moment, and the signed admission token) and ``views`` (the routes' bodies and
answers). The package itself exports nothing: callers name the module of the concept they use.
"""
