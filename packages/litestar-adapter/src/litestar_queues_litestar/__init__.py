"""litestar_queues_litestar."""
