"""DynamoDB and SQS access. The only package that imports boto3."""
