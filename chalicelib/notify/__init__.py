"""Messages to registrants: the SMS gateway client (``sms``) and its per-container factory (``factory``)."""
