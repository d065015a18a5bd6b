"""litestar_queues_redis."""
