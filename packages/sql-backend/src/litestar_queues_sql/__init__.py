"""litestar_queues_sql."""
