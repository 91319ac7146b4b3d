"""Messages to registrants: the SMS gateway client."""
