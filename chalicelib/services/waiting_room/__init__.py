"""The waiting room of the app channel (contract v1.2; docs/architecture.md, "The waiting room").

One concept a module: ``line`` (the clock, this container's copy of the line's state, the figures
everyone reads, the stop when the places are gone), ``tickets`` (join, read a ticket, read the
line), ``sequencer`` (the schedule's loop, a round, the opening's draw, the pre-queue's count),
``rounds`` (a round's claim, its buckets and its commit) and ``admission`` (the check of a
registration's admission, the admin's figures and pace). The package itself exports nothing: callers
name the module of the concept they use.
"""
