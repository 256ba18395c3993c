"""The routes, one small module per group of endpoints."""
