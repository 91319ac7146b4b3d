"""What the queue and schedule handlers do."""
