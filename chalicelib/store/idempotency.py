"""The persistence layer of Powertools' idempotency utility, on our DynamoDB client."""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from chalicelib.config import get_settings
from chalicelib.store import clients


@lru_cache(maxsize=1)
def persistence_layer() -> DynamoDBPersistenceLayer:
    return DynamoDBPersistenceLayer(table_name=get_settings().idempotency_table, boto3_client=clients.dynamodb())
