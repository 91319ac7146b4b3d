"""Chalice entry points: blueprints, middleware, queue and schedule handlers. No logic here."""

from __future__ import annotations

from typing import Any

from chalice import Chalice, Cron

from chalicelib import logs
from chalicelib.api.admin import admin
from chalicelib.api.auth import auth
from chalicelib.api.correlation import correlated
from chalicelib.api.counter import counter
from chalicelib.api.middleware import contract_errors
from chalicelib.api.org import org
from chalicelib.api.pages import pages
from chalicelib.api.public import public
from chalicelib.api.queue import waiting_room
from chalicelib.api.site import site
from chalicelib.api.verifications import verification
from chalicelib.config import queue_name

# Importing this module registers the routes and handlers, and loads nothing they use: each view,
# job and schedule imports its services when it runs (chalicelib/api/routes.py), so a cold start
# pays only for what its first event needs.
app = Chalice(app_name="kk-vaccine-registration")
app.register_blueprint(auth)
app.register_blueprint(public)
app.register_blueprint(verification)
app.register_blueprint(waiting_room)
app.register_blueprint(counter)
app.register_blueprint(org)
app.register_blueprint(site)
app.register_blueprint(admin)
app.register_blueprint(pages)
app.register_middleware(contract_errors, "http")
app.register_middleware(correlated, "http")
app.register_middleware(logs.configured, "all")


@app.on_sqs_message(queue=queue_name("promotion"), batch_size=10, name="promotion_worker")
def promotion_worker(event: Any) -> dict[str, Any]:
    # Imported here: each handler is its own Lambda function, and the API's cold start
    # need not load the batch utilities (nor the workers the API's).
    from chalicelib.jobs import promotion

    return promotion.handle(event.to_dict(), event.context)


@app.on_sqs_message(queue=queue_name("batches"), batch_size=1, name="batch_worker")
def batch_worker(event: Any) -> dict[str, Any]:
    from chalicelib.jobs import batches

    return batches.handle(event.to_dict(), event.context)


# One person a message: a registry that times out must not make a batch outlive the 30 s timeout.
@app.on_sqs_message(queue=queue_name("removals"), batch_size=1, name="removal_worker")
def removal_worker(event: Any) -> dict[str, Any]:
    from chalicelib.jobs import removals

    return removals.handle(event.to_dict(), event.context)


@app.on_sqs_message(queue=queue_name("reconcile"), batch_size=1, name="reconcile_worker")
def reconcile_worker(event: Any) -> dict[str, Any]:
    from chalicelib.jobs import reconcile

    return reconcile.handle(event.to_dict(), event.context)


@app.on_sqs_message(queue=queue_name("appointments"), batch_size=1, name="appointment_worker")
def appointment_worker(event: Any) -> dict[str, Any]:
    from chalicelib.jobs import appointments

    return appointments.handle_allocation(event.to_dict(), event.context)


@app.on_sqs_message(queue=queue_name("sms"), batch_size=10, name="sms_worker")
def sms_worker(event: Any) -> dict[str, Any]:
    from chalicelib.jobs import sms

    return sms.handle(event.to_dict(), event.context)


@app.schedule("rate(1 day)", name="allocate_daily")
def allocate_daily(event: Any) -> None:
    from chalicelib.services import appointments

    appointments.start()


# 01:00 in Bangkok (UTC+7, no daylight saving): the day before is over everywhere.
@app.schedule(Cron(0, 18, "*", "*", "?", "*"), name="close_daily")
def close_daily(event: Any) -> None:
    from chalicelib.services import doses

    doses.close_yesterday()


@app.schedule("rate(1 minute)", name="sweep")
def sweep(event: Any) -> None:
    from chalicelib.services import promotion, removals

    promotion.sweep()
    removals.sweep()


# The waiting room's sequencer: each invocation sequences every second as it closes until its minute
# is nearly over (docs/architecture.md, "The waiting room"); readers run a round themselves if it lags.
@app.schedule("rate(1 minute)", name="queue_sequencer")
def queue_sequencer(event: Any) -> None:
    from chalicelib.services import waiting_room

    waiting_room.run_for(event.context)


@app.schedule("rate(1 hour)", name="reconcile_hourly")
def reconcile_hourly(event: Any) -> None:
    from chalicelib.services import reconcile

    reconcile.start(full=False)


@app.schedule("rate(1 day)", name="reconcile_daily")
def reconcile_daily(event: Any) -> None:
    from chalicelib.services import reconcile

    reconcile.start(full=True)
